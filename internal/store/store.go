package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Callers test them with errors.Is; the API server is the
// one place that maps them to HTTP statuses.
var (
	// ErrNotFound: the key does not exist (Get, Update, Delete).
	ErrNotFound = errors.New("key not found")
	// ErrExists: Create of a key that already exists.
	ErrExists = errors.New("key already exists")
	// ErrConflict: Update or Delete whose expected revision is not the key's
	// current modification revision.
	ErrConflict = errors.New("revision conflict")
	// ErrCompacted: a List or Watch asked for a revision older than the
	// oldest one still kept (HTTP 410 Gone).
	ErrCompacted = errors.New("revision has been compacted")
	// ErrFutureRevision: a List asked for a revision newer than the store's.
	ErrFutureRevision = errors.New("revision is newer than the current revision")
	// ErrWatcherTooSlow: a watcher did not drain its events fast enough and
	// was dropped so that writers never wait for it (HTTP 410 Gone).
	ErrWatcherTooSlow = errors.New("watcher fell behind and was dropped")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store is closed")
	// ErrInvalidContinue: a List continue token that this store did not
	// issue, or one for a different prefix (HTTP 400 Bad Request).
	ErrInvalidContinue = errors.New("continue token is not valid")
	// ErrValueTooLarge: a value above the backend's size limit (HTTP 413).
	ErrValueTooLarge = errors.New("value is too large")
)

// KeyValue is one key at one revision.
//
// Values are shared, not copied: a backend keeps the slice passed to Create
// or Update, and the slices it returns (from Get, List, Watch, …) are the
// ones it holds in memory. Neither side may modify a value's bytes after
// handing it over.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the write that created the key
	ModRevision    int64 // revision of the last write to the key
}

// EventType says what a write did to a key.
type EventType uint8

const (
	EventCreate EventType = iota + 1
	EventUpdate
	EventDelete
)

// Event is one write seen by a watcher. For EventDelete, KV holds the value
// the key had before deletion with ModRevision set to the deletion's
// revision. Prev is the value before an update or delete (nil on create).
type Event struct {
	Type EventType
	KV   KeyValue
	Prev *KeyValue
}

// WriteOptions are optional settings of Create and Update.
type WriteOptions struct {
	// TTL, when positive, deletes the key this long after the write (the
	// deletion is a normal write with its own revision and event).
	TTL time.Duration
}

// ListOptions select a page of a prefix.
type ListOptions struct {
	// Revision lists the prefix as it was at that revision; 0 means the
	// current revision. ErrCompacted / ErrFutureRevision when out of range.
	Revision int64
	// Limit caps the number of keys returned; 0 means no limit.
	Limit int64
	// Continue is the token of the previous page; the page it starts is
	// consistent with the first page's revision.
	Continue string
}

// ListResult is one page of a List, in key order.
type ListResult struct {
	KVs       []KeyValue
	Revision  int64  // the revision the whole listing is consistent at
	Continue  string // token for the next page, "" when this is the last
	Remaining int64  // keys after this page (0 on the last page)
}

// Watcher delivers events in revision order until it is stopped (its context
// ends) or dropped. After Events is closed, Err says why: nil when the
// context ended, ErrWatcherTooSlow or ErrClosed otherwise.
type Watcher interface {
	Events() <-chan Event
	Err() error
}

// Backend is a revisioned key-value store. Every write increments one global
// revision by exactly one; that revision becomes the Kubernetes
// resourceVersion. Keys look like /registry/<resource>/<namespace>/<name>.
type Backend interface {
	// Create stores a new key; ErrExists if it exists.
	Create(ctx context.Context, key string, value []byte, opts WriteOptions) (KeyValue, error)
	// Get returns the current value of a key; ErrNotFound if absent.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns keys with the prefix in key order.
	List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error)
	// Count returns how many keys have the prefix now.
	Count(ctx context.Context, prefix string) (int64, error)
	// Update replaces a key's value if its ModRevision equals
	// expectedRevision (0 means unconditionally); ErrConflict otherwise,
	// ErrNotFound if the key is absent.
	Update(ctx context.Context, key string, value []byte, expectedRevision int64, opts WriteOptions) (KeyValue, error)
	// Delete removes a key under the same precondition as Update and returns
	// the deleted value, its ModRevision set to the deletion's revision.
	Delete(ctx context.Context, key string, expectedRevision int64) (KeyValue, error)
	// Watch delivers every write to keys with the prefix whose revision is
	// greater than fromRevision, in order. ErrCompacted if events after
	// fromRevision are no longer kept.
	Watch(ctx context.Context, prefix string, fromRevision int64) (Watcher, error)
	// CurrentRevision is the revision of the last acknowledged write.
	CurrentRevision() int64
	// CompactedRevision is the newest revision that has been compacted away;
	// Lists and Watches must ask for revisions above it.
	CompactedRevision() int64
	// Compact discards history at and below revision.
	Compact(ctx context.Context, revision int64) error
	// Snapshot writes a consistent copy of the database to path while
	// writes continue.
	Snapshot(ctx context.Context, path string) error
	// Close stops watchers and releases the database.
	Close() error
}
