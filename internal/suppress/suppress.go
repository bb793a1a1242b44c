// Package suppress keeps herald's suppression list: the recipients who
// unsubscribed, complained (spam), hard-bounced or were blocked, as seen in
// the event stream. They get no more Mailjet follow-ups (DESIGN §7).
//
// The list lives in the JetStream KV bucket herald_suppressed, so every
// replica sees it and it survives restarts. A key is the hex SHA-256 of the
// address, lower-cased and trimmed: KV keys cannot hold '@', and hashing
// keeps addresses out of key listings. A value records why and when.
package suppress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/streams"
)

// Bucket is the KV bucket holding the list.
const Bucket = "herald_suppressed"

// Reasons a recipient is suppressed.
const (
	ReasonUnsub      = "unsub"
	ReasonSpam       = "spam"
	ReasonHardBounce = "hard_bounce"
	ReasonBlocked    = "blocked"
)

// Entry is the stored value of one suppressed address.
type Entry struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Store is the suppression list. It is safe for concurrent use.
type Store struct {
	kv jetstream.KeyValue
	// publish sends KV puts without waiting for each in turn (AddAll);
	// nil on a Store from New, which puts one at a time.
	publish func(context.Context, []streams.Message) ([]streams.Message, error)
}

// Suppression is one address to add, for AddAll.
type Suppression struct {
	Email  string
	Reason string
	At     time.Time
}

// Open creates or opens the bucket on c and returns its Store.
func Open(ctx context.Context, c *streams.Conn) (*Store, error) {
	kv, err := c.KV(ctx, Bucket)
	if err != nil {
		return nil, fmt.Errorf("suppression list: %w", err)
	}
	s := New(kv)
	s.publish = c.PublishAll
	return s, nil
}

// New returns a Store on an existing bucket.
func New(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// Key returns the bucket key of an address: the hex SHA-256 of the address
// trimmed and lower-cased.
func Key(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// Add records that email must get no more Mailjet follow-ups, for reason
// (unsub, spam, hard_bounce, blocked) since at. Adding an address again
// replaces its entry.
func (s *Store) Add(ctx context.Context, email, reason string, at time.Time) error {
	data, err := entry(email, reason, at)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, Key(email), data); err != nil {
		return fmt.Errorf("suppress: store %s entry: %w", reason, err)
	}
	return nil
}

// AddAll adds every address of list, as Add does, in order (a later one
// replaces an earlier one of the same address). The puts go out without
// waiting for each acknowledgement in turn; AddAll returns once all are
// stored. On an error some may be stored: adding them all again stores
// the same entries again, which is harmless.
func (s *Store) AddAll(ctx context.Context, list []Suppression) error {
	if s.publish == nil {
		for _, x := range list {
			if err := s.Add(ctx, x.Email, x.Reason, x.At); err != nil {
				return err
			}
		}
		return nil
	}
	msgs := make([]streams.Message, 0, len(list))
	for _, x := range list {
		data, err := entry(x.Email, x.Reason, x.At)
		if err != nil {
			return err
		}
		// A KV put is a publish on the bucket's subject for the key.
		msgs = append(msgs, streams.Message{Subject: "$KV." + Bucket + "." + Key(x.Email), Data: data})
	}
	if _, err := s.publish(ctx, msgs); err != nil {
		return fmt.Errorf("suppress: store entries: %w", err)
	}
	return nil
}

// entry checks an address and reason and encodes their entry.
func entry(email, reason string, at time.Time) ([]byte, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("suppress: empty address")
	}
	if reason == "" {
		return nil, errors.New("suppress: empty reason")
	}
	data, err := json.Marshal(Entry{Reason: reason, At: at.UTC()})
	if err != nil {
		return nil, fmt.Errorf("suppress: %w", err)
	}
	return data, nil
}

// Check reports whether email is suppressed and why.
func (s *Store) Check(ctx context.Context, email string) (reason string, ok bool, err error) {
	e, ok, err := s.Get(ctx, email)
	return e.Reason, ok, err
}

// Get returns the entry of email, and false when it is not suppressed.
func (s *Store) Get(ctx context.Context, email string) (Entry, bool, error) {
	if strings.TrimSpace(email) == "" {
		return Entry{}, false, nil
	}
	kve, err := s.kv.Get(ctx, Key(email))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("suppress: check: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return Entry{}, false, fmt.Errorf("suppress: bad entry %s: %w", kve.Key(), err)
	}
	return e, true, nil
}

// Remove takes email off the list, e.g. after the recipient subscribed
// again. Removing an address that is not listed is not an error.
func (s *Store) Remove(ctx context.Context, email string) error {
	err := s.kv.Purge(ctx, Key(email))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("suppress: remove: %w", err)
	}
	return nil
}
