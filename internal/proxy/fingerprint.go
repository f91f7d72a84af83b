package proxy

import (
	"encoding/binary"
	"net/netip"

	"kserver.dev/kserver/internal/nft"
)

// The table carries a fingerprint of its content: one element of the set
// "fingerprint", written in the same transaction as every change. It is
// the XOR of a hash of each element of the skeleton's sets and endpoint
// maps and of each chain and set of Services with affinity, so that a
// change updates it without a pass over everything. A restarted kserver
// whose desired state has the same fingerprint takes the table over
// without reading its elements (a dump of 40k elements costs the kernel
// more than writing them: it walks the set from the start for each part
// of the answer). Writes by others behind our back are not caught there
// but by the periodic Resync.
const setFingerprint = "fingerprint"

// fnv64 hashes the parts (kept apart by their lengths) eight bytes at a
// time, FNV-style with a final mix. It must give the same result in every
// run: the fingerprint outlives the process.
func fnv64(parts ...[]byte) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 0x100000001b3
		h ^= h >> 29
	}
	for _, p := range parts {
		mix(uint64(len(p)))
		for len(p) >= 8 {
			mix(binary.LittleEndian.Uint64(p))
			p = p[8:]
		}
		var tail [8]byte
		copy(tail[:], p)
		mix(binary.LittleEndian.Uint64(tail[:]))
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	return h ^ h>>33
}

func elementHash(set string, e nft.Element) uint64 {
	var data []byte
	switch {
	case e.Verdict != nil:
		data = []byte(e.Verdict.String())
	case e.Value != nil:
		data = e.Value.Bytes
	}
	return fnv64([]byte(set), e.Key.Bytes, e.Key.End, data)
}

// fingerprint of a fragment (without its hairpin addresses, which are
// shared).
func (fr *fragment) fingerprint() uint64 {
	if fr.fpDone {
		return fr.fp
	}
	var fp uint64
	for _, se := range fr.elems {
		for _, e := range se.es {
			fp ^= elementHash(se.set, e)
		}
	}
	for _, c := range fr.chains {
		for _, r := range c.Rules {
			fp ^= fnv64([]byte(c.Name), []byte(r.Text))
		}
	}
	for _, s := range fr.sets {
		fp ^= fnv64([]byte(s.Name), []byte(s.Timeout.String()))
	}
	fr.fp, fr.fpDone = fp, true
	return fp
}

func hairpinHash(f nft.Family, a netip.Addr) uint64 {
	return elementHash(setHairpin, nft.Element{Key: f.AddrPairKey(a, a)})
}

// fingerprintElement is the element holding fp.
func fingerprintElement(fp uint64) nft.Element {
	return nft.Element{Key: nft.Key{Bytes: binary.NativeEndian.AppendUint64(nil, fp)}}
}
