package proxy

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func thr() (int64, int64) {
	var r unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &r)
	return r.Utime.Nano(), r.Stime.Nano()
}

func TestZZToggle(t *testing.T) {
	p := benchProxier(t)
	svcs := scaleServices(10000, 4)
	if err := p.Sync(svcs); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const n = 60
	var us, ss [2]int64
	for i := 0; i < n; i++ {
		k := (i / 2 * 7919) % len(svcs)
		svcs[k].Endpoints = slices.Clone(svcs[k].Endpoints)
		if i%2 == 0 {
			e := svcs[k].Endpoints[3]
			e.IP = e.IP.Next()
			svcs[k].Endpoints = append(svcs[k].Endpoints, e)
		} else {
			svcs[k].Endpoints = svcs[k].Endpoints[:4]
		}
		u0, s0 := thr()
		if err := p.Update(svcs[k:k+1], nil); err != nil {
			t.Fatal(err)
		}
		u1, s1 := thr()
		us[i%2] += u1 - u0
		ss[i%2] += s1 - s0
		if p.LastSync().Full {
			t.Fatal("full")
		}
	}
	t.Logf("grow: user %.3f sys %.3f; shrink: user %.3f sys %.3f (ms)", float64(us[0])/n*2/1e6, float64(ss[0])/n*2/1e6, float64(us[1])/n*2/1e6, float64(ss[1])/n*2/1e6)
}
