package daemon

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/supervisor"
)

// UnderSystemd reports whether systemd started this process as a service
// that expects notifications (Type=notify sets NOTIFY_SOCKET).
func UnderSystemd() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// InUnit reports whether this process runs as a systemd service or scope
// (INVOCATION_ID set, and its own cgroup a .service or .scope): only then
// does it own a delegated cgroup.
func InUnit() bool {
	if os.Getenv("INVOCATION_ID") == "" {
		return false
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[0] == "0" || strings.Contains(parts[1], "memory")) {
			if strings.HasSuffix(parts[2], ".service") || strings.HasSuffix(parts[2], ".scope") {
				return true
			}
		}
	}
	return false
}

// Notify sends a state to systemd (sd_notify); outside systemd it does
// nothing at all.
func Notify(log zerolog.Logger, state string) { notify(log, state) }

func notify(log zerolog.Logger, state string) {
	if !UnderSystemd() {
		return
	}
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn().Err(err).Msg("sd_notify")
	}
}

// activated returns the socket systemd passed (podvisor.socket), or nil.
func activated(log zerolog.Logger) net.Listener {
	if os.Getenv("LISTEN_FDS") == "" {
		return nil
	}
	lns, err := activation.Listeners()
	if err != nil {
		log.Warn().Err(err).Msg("socket activation")
		return nil
	}
	var found net.Listener
	for _, ln := range lns {
		if ln == nil {
			continue
		}
		if _, ok := ln.(*net.UnixListener); ok && found == nil {
			found = ln
			continue
		}
		ln.Close()
	}
	return found
}

// statusLine is the one-line STATUS= summary.
func statusLine(sv *supervisor.Supervisor) string {
	running, failing := summary(sv)
	return fmt.Sprintf("%d pods running, %d failing", running, failing)
}

// watchdog pings systemd at half of WATCHDOG_USEC, but only while the
// supervisor's loops answer: a wedged loop stops the pings, and systemd
// restarts the daemon. It also keeps STATUS= current. It returns when stop
// is closed.
func watchdog(log zerolog.Logger, sv *supervisor.Supervisor, stop <-chan struct{}) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := sv.Healthy(interval / 4); err != nil {
				log.Error().Err(err).Msg("watchdog: not pinging systemd")
				continue
			}
			notify(log, "WATCHDOG=1\nSTATUS="+statusLine(sv))
		}
	}
}

// followStatus sends STATUS= whenever a pod changes phase.
func followStatus(log zerolog.Logger, sv *supervisor.Supervisor, stop <-chan struct{}) {
	if !UnderSystemd() {
		return
	}
	events, cancel := sv.Subscribe(64)
	defer cancel()
	for {
		select {
		case <-stop:
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			if e.Type == supervisor.EventPhase || e.Type == supervisor.EventRemoved {
				notify(log, "STATUS="+statusLine(sv))
			}
		}
	}
}
