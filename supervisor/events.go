package supervisor

import (
	"sync"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// EventType says what happened.
type EventType string

// The event types.
const (
	// EventCreated: a pod was created.
	EventCreated EventType = "Created"
	// EventStarted: a process was started.
	EventStarted EventType = "Started"
	// EventStartFailed: a process could not be started (reason StartError).
	EventStartFailed EventType = "StartFailed"
	// EventExited: a process exited (exit code, signal, reason).
	EventExited EventType = "Exited"
	// EventOOMKilled: the kernel killed a process for its memory limit.
	EventOOMKilled EventType = "OOMKilled"
	// EventRestarting: a process will be restarted after Delay.
	EventRestarting EventType = "Restarting"
	// EventPhase: the pod's phase changed.
	EventPhase EventType = "PhaseChanged"
	// EventRemoved: a pod was removed.
	EventRemoved EventType = "Removed"
)

// Event is one thing that happened to a pod or one of its processes.
type Event struct {
	Time     time.Time `json:"time"`
	Type     EventType `json:"type"`
	Pod      string    `json:"pod"`
	Process  string    `json:"process,omitempty"`
	PID      int       `json:"pid,omitempty"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Signal   string    `json:"signal,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Delay is the back-off before a restart, as a Go duration string.
	Delay   string    `json:"delay,omitempty"`
	Phase   pod.Phase `json:"phase,omitempty"`
	Message string    `json:"message,omitempty"`
}

// eventBus fans events out to subscribers. A subscriber that does not keep
// up loses events rather than slowing a pod down.
type eventBus struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

func (b *eventBus) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (b *eventBus) subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan Event]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}
