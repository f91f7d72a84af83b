package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// GCResult says what a garbage collection found and did.
type GCResult struct {
	UsagePercent int      // disk usage of the image file system before
	Wanted       int64    // bytes it had to free (0 below the high threshold)
	Freed        int64    // bytes freed
	Removed      []string // image IDs removed
}

// ErrGCShort: the collection could not free as much as it wanted. The
// kubelet reports it as a FreeDiskSpaceFailed event; the error text is its
// message.
var ErrGCShort = errors.New("not enough unused images to free")

// Run collects garbage every GC.Period until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	if s.cfg.GC.Period <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.cfg.GC.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.GarbageCollect(ctx); err != nil {
			s.log.Warn("image garbage collection", "err", err)
		}
		s.backoff.GC()
	}
}

// GarbageCollect frees disk space like the kubelet's image GC: when the file
// system holding the store is at or above the high threshold, it removes
// unused images, least recently used first, until usage would be at the low
// threshold. Images in use and images younger than MinAge are kept.
func (s *Store) GarbageCollect(ctx context.Context) (GCResult, error) {
	capacity, available, err := s.usage(s.cfg.Root)
	if err != nil {
		return GCResult{}, err
	}
	if capacity == 0 {
		return GCResult{}, fmt.Errorf("invalid capacity 0 on the file system of %s", s.cfg.Root)
	}
	available = min(available, capacity)
	res := GCResult{UsagePercent: 100 - int(available*100/capacity)}
	if res.UsagePercent < s.cfg.GC.HighThresholdPercent {
		return res, nil
	}
	res.Wanted = int64(capacity)*int64(100-s.cfg.GC.LowThresholdPercent)/100 - int64(available)
	s.log.Info("disk usage is over the image gc high threshold; freeing space",
		"usage", res.UsagePercent, "high", s.cfg.GC.HighThresholdPercent, "want", res.Wanted)
	res.Freed, res.Removed, err = s.freeSpace(ctx, res.Wanted)
	if err != nil {
		return res, err
	}
	if res.Freed < res.Wanted {
		return res, fmt.Errorf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free: %w", //nolint:staticcheck // the kubelet's wording
			res.Wanted, res.Freed, ErrGCShort)
	}
	return res, nil
}

// Prune removes every unused image older than MinAge and returns the bytes
// freed.
func (s *Store) Prune(ctx context.Context) (int64, []string, error) {
	return s.freeSpace(ctx, math.MaxInt64)
}

// freeSpace removes eviction candidates until want bytes are freed.
func (s *Store) freeSpace(ctx context.Context, want int64) (int64, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var cands []*imageRecord
	for _, im := range s.idx.Images {
		if s.inUseLocked(im.ID) || now.Sub(im.Created) < s.cfg.GC.MinAge {
			continue
		}
		cands = append(cands, im)
	}
	slices.SortFunc(cands, func(a, b *imageRecord) int {
		if c := a.LastUsed.Compare(b.LastUsed); c != 0 {
			return c
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var freed int64
	var removed []string
	var errs []error
	for _, im := range cands {
		if freed >= want || ctx.Err() != nil {
			break
		}
		n, err := s.removeLocked(im.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		freed += n
		removed = append(removed, im.ID)
	}
	return freed, removed, errors.Join(errs...)
}

// FsStats describes the image file system, for the node's imagefs stats and
// its DiskPressure condition.
type FsStats struct {
	Capacity    uint64 // bytes of the file system holding the store
	Available   uint64 // bytes free for unprivileged use
	LayersBytes int64  // file content of the unpacked layers
	Images      int
}

// FsStats reports the image file system's size and what the store uses.
func (s *Store) FsStats() (FsStats, error) {
	capacity, available, err := s.usage(s.cfg.Root)
	if err != nil {
		return FsStats{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := FsStats{Capacity: capacity, Available: available, Images: len(s.idx.Images)}
	for _, l := range s.idx.Layers {
		st.LayersBytes += l.DiskSize
	}
	return st, nil
}
