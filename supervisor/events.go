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

// changeBus tells subscribers which pods' statuses changed. Names are
// coalesced per subscriber: one that falls behind gets each changed name
// once, and reads the status then.
type changeBus struct {
	mu   sync.Mutex
	subs map[*changeSub]struct{}
}

type changeSub struct {
	wake    chan struct{}
	mu      sync.Mutex
	pending map[string]bool
}

func (b *changeBus) publish(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		s.pending[name] = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// WatchChanges reports the names of pods whose status changed (a process
// started, exited, became ready or not, a phase, a condition, a removal),
// from now on: wake fires when there are names, next takes them (each
// once, however often it changed meanwhile). Call cancel when done.
func (s *Supervisor) WatchChanges() (wake <-chan struct{}, next func() []string, cancel func()) {
	sub := &changeSub{wake: make(chan struct{}, 1), pending: map[string]bool{}}
	b := &s.changes
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*changeSub]struct{}{}
	}
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	next = func() []string {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		out := make([]string, 0, len(sub.pending))
		for n := range sub.pending {
			out = append(out, n)
		}
		clear(sub.pending)
		return out
	}
	cancel = func() {
		b.mu.Lock()
		delete(b.subs, sub)
		b.mu.Unlock()
	}
	return sub.wake, next, cancel
}
