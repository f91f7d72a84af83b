package job

import (
	"testing"
	"time"
)

func TestIndexesRoundTrip(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "0,1,2,4": "0-2,4", "3-5,1": "1,3-4", "0-9": "0-4"} {
		if got := parseIndexes(in, 5).String(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestBackoffDoubles(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		failures int32
		want     time.Duration
	}{{0, 0}, {1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {20, MaxPodFailureBackOff}} {
		r := backoffRecord{failures: tc.failures, lastFailure: now}
		if got := r.remaining(now, DefaultPodFailureBackOff); got != tc.want {
			t.Errorf("%d failures: %v, want %v", tc.failures, got, tc.want)
		}
	}
	r := backoffRecord{failures: 1, lastFailure: now.Add(-4 * time.Second)}
	if got := r.remaining(now, DefaultPodFailureBackOff); got != 6*time.Second {
		t.Fatalf("elapsed time counts: %v", got)
	}
}
