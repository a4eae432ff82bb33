package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// journalStream reports whether stderr is connected to the journal
// (systemd sets JOURNAL_STREAM for services).
func journalStream() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok && journal.Enabled()
}

// journalWriter turns zerolog's JSON events into journal entries: the
// message as MESSAGE, the level as PRIORITY, and every field as an
// upper-case journal field (pod -> POD, process -> PROCESS), so that
// `journalctl -u podvisor POD=web` selects one pod's lines.
type journalWriter struct{}

func (journalWriter) Write(p []byte) (int, error) {
	var ev map[string]any
	if err := json.Unmarshal(p, &ev); err != nil {
		return len(p), journal.Send(strings.TrimSpace(string(p)), journal.PriInfo, nil)
	}
	msg, _ := ev[zerolog.MessageFieldName].(string)
	prio := journal.PriInfo
	switch ev[zerolog.LevelFieldName] {
	case "trace", "debug":
		prio = journal.PriDebug
	case "warn":
		prio = journal.PriWarning
	case "error":
		prio = journal.PriErr
	case "fatal", "panic":
		prio = journal.PriCrit
	}
	vars := map[string]string{"SYSLOG_IDENTIFIER": "podvisor"}
	var extra []string
	for k, v := range ev {
		if k == zerolog.MessageFieldName || k == zerolog.LevelFieldName || k == zerolog.TimestampFieldName {
			continue
		}
		s := fmt.Sprint(v)
		if str, ok := v.(string); ok {
			s = str
		}
		vars[journalField(k)] = s
		extra = append(extra, k+"="+s)
	}
	if len(extra) > 0 {
		msg += " " + strings.Join(extra, " ")
	}
	return len(p), journal.Send(msg, prio, vars)
}

// journalField makes a journal field name: upper case letters, digits and
// underscores, not starting with an underscore or a digit.
func journalField(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_0123456789")
	if s == "" {
		s = "FIELD"
	}
	return s
}
