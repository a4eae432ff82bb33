package supervisor

import (
	"sync"

	"github.com/podvisor/podvisor/pod"
)

// EventType says what happened; see pod.EventType.
type EventType = pod.EventType

// The event types, as in package pod.
const (
	EventCreated             = pod.EventCreated
	EventStarted             = pod.EventStarted
	EventStartFailed         = pod.EventStartFailed
	EventExited              = pod.EventExited
	EventOOMKilled           = pod.EventOOMKilled
	EventRestarting          = pod.EventRestarting
	EventPhase               = pod.EventPhase
	EventRemoved             = pod.EventRemoved
	EventUnhealthy           = pod.EventUnhealthy
	EventKilling             = pod.EventKilling
	EventFailedPostStartHook = pod.EventFailedPostStartHook
	EventFailedPreStopHook   = pod.EventFailedPreStopHook
	EventPodRestarted        = pod.EventPodRestarted
	EventDependencyFailed    = pod.EventDependencyFailed
	EventNetworkNotReady     = pod.EventNetworkNotReady
)

// Event is one thing that happened to a pod or one of its processes; see
// pod.Event.
type Event = pod.Event

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
