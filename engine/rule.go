package engine

import (
	"time"
)

// Kind is the kind of a rule, chosen by the keys it has (DESIGN §6).
type Kind int

// The rule kinds.
const (
	KindPlain    Kind = iota // on [+ if]: every matching event
	KindSequence             // on + after: the event follows an earlier one
	KindAbsence              // on + unless: no follow-up within a time
	KindWindow               // on + window + when: an aggregate over a sliding window
	KindEvery                // on + every: each Nth matching event
)

var kindNames = [...]string{"plain", "sequence", "absence", "window", "every"}

// String returns the kind's name as the docs use it.
func (k Kind) String() string { return kindNames[k] }

// RuleSet is a compiled rules file. It is immutable once loaded and may be
// shared by several engines.
type RuleSet struct {
	// File is the path the rules were loaded from.
	File string
	// Version identifies the content (a hash of the file's bytes).
	Version string
	// Vars are the file's constants.
	Vars  map[string]any
	Rules []*Rule
	// Warnings are things that load but are probably mistakes, such as an
	// event type Mailjet does not send.
	Warnings []string

	byType map[string][]*Rule // event type → rules that look at it, in file order
	any    []*Rule            // rules that look at every type
}

// Rule is one compiled rule.
type Rule struct {
	Name        string
	Description string
	Enabled     bool
	Shadow      bool
	Kind        Kind
	On          []string // event types; ["*"] for all
	Line        int      // where the rule starts in its file

	onAll bool
	// onOther says whether on includes the after or unless type (other).
	onOther   bool
	otherType int // typeNumber(other)
	on        map[string]bool

	cond    *program // if
	groupBy *program // group_by (window, every)

	// sequence (after) and absence (unless)
	other  string   // after.event / unless.event
	by     *program // the correlation key; default MessageID
	within time.Duration

	// window
	window      time.Duration
	bucket      time.Duration
	buckets     int // the window is this many buckets of width bucket
	when        *program
	resolveWhen *program // nil: resolve when `when` is false
	repeat      time.Duration
	aggs        []*aggregate

	// every
	every int64

	limit *limit

	do        []*actionSpec
	onResolve []*actionSpec

	// fields lists the event fields that rendering and later evaluation
	// need from a stored event (sequence and absence keep events).
	fields     fieldSet
	prevFields fieldSet // what stored predecessors keep (sequence)
	// condPrev says whether the `if` of a sequence reads prev; when it does
	// not, it is evaluated before the predecessor is looked up.
	condPrev bool
	// whenNow says whether a window's when or resolve_when reads now():
	// only then can a tick change them for a group without new counts.
	whenNow bool
	// stateHash covers the keys that define the rule's state; a reload
	// keeps the state of a rule whose stateHash is unchanged.
	stateHash uint64
}

// limit caps a rule's firings per key and period.
type limit struct {
	by  *program
	max int
	per time.Duration
}

// matches reports whether the rule's `on` includes the type t.
func (r *Rule) matches(t string) bool { return r.onAll || r.on[t] }

// isOther reports whether the event being processed, which the rule
// receives (RuleSet.index), is of its after or unless type: a comparison
// of type numbers (typeNumber) for the types Mailjet sends.
func (e *Engine) isOther(r *Rule, ev *Event) bool {
	if e.evType >= 0 {
		return e.evType == r.otherType
	}
	return ev.Type == r.other
}
