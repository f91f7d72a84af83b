package sqlite

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"kserver.dev/kserver/internal/store"
)

// checkKey rejects keys the log cannot hold faithfully.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty key")
	case !utf8.ValidString(key) || strings.ContainsRune(key, 0):
		return fmt.Errorf("key %q is not valid UTF-8 text", key)
	}
	return nil
}

func (s *Store) checkWrite(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > s.cfg.MaxValueBytes {
		return fmt.Errorf("%s: value of %d bytes exceeds the limit of %d: %w", key, len(value), s.cfg.MaxValueBytes, store.ErrValueTooLarge)
	}
	return nil
}

// Create stores a new key; store.ErrExists if it exists.
func (s *Store) Create(ctx context.Context, key string, value []byte, opts store.WriteOptions) (store.KeyValue, error) {
	if err := s.checkWrite(key, value); err != nil {
		return store.KeyValue{}, err
	}
	return s.submit(ctx, &request{op: opCreate, key: key, value: value, ttl: opts.TTL})
}

// Update replaces a key's value if its ModRevision equals expectedRevision
// (0: unconditionally). The key's TTL is replaced by opts.TTL (none if 0).
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64, opts store.WriteOptions) (store.KeyValue, error) {
	if err := s.checkWrite(key, value); err != nil {
		return store.KeyValue{}, err
	}
	if expectedRevision < 0 {
		return store.KeyValue{}, fmt.Errorf("update %s: negative expected revision %d", key, expectedRevision)
	}
	return s.submit(ctx, &request{op: opUpdate, key: key, value: value, expect: expectedRevision, ttl: opts.TTL})
}

// Delete removes a key under the same precondition as Update.
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (store.KeyValue, error) {
	if err := checkKey(key); err != nil {
		return store.KeyValue{}, err
	}
	if expectedRevision < 0 {
		return store.KeyValue{}, fmt.Errorf("delete %s: negative expected revision %d", key, expectedRevision)
	}
	return s.submit(ctx, &request{op: opDelete, key: key, expect: expectedRevision})
}

// Get returns the current value of a key from memory.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	s.mu.RLock()
	kv, ok := s.index.Get(store.KeyValue{Key: key})
	closed := s.closed
	s.mu.RUnlock()
	switch {
	case closed:
		return store.KeyValue{}, store.ErrClosed
	case !ok:
		return store.KeyValue{}, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return kv, nil
}

// Count returns how many keys have the prefix now.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	var n int64
	s.ascend(prefix, prefix, func(store.KeyValue) bool { n++; return true })
	return n, nil
}

// ascend visits current keys with the prefix from start on, in key order.
// The caller holds s.mu.
func (s *Store) ascend(prefix, start string, fn func(store.KeyValue) bool) {
	visit := func(kv store.KeyValue) bool {
		if !strings.HasPrefix(kv.Key, prefix) {
			return false
		}
		return fn(kv)
	}
	pivot := store.KeyValue{Key: max(prefix, start)}
	if end := prefixEnd(prefix); end != "" {
		s.index.AscendRange(pivot, store.KeyValue{Key: end}, visit)
	} else {
		s.index.AscendGreaterOrEqual(pivot, visit)
	}
}
