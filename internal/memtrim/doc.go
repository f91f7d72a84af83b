// Package memtrim keeps the resident set of an idle kserver process close to
// what it really uses.
//
// Most of an idle kserver's RSS is not heap: it is the pages of its own
// executable, mapped from the page cache. Recent kernels keep the page cache
// of a large file in large folios and map a whole folio on a fault, so
// touching one function maps its neighbours too, and readahead on the
// executable brings in megabytes that start-up used once. Those pages are
// clean and reclaimable, but they count in VmRSS (as RssFile) for as long as
// they stay mapped.
//
// A Trimmer does three things:
//   - at start it advises the kernel that the executable's read-only
//     mappings are read at random (MADV_RANDOM), so a later fault there reads
//     one page instead of a readahead window;
//   - once start-up is over it pages those mappings out (MADV_PAGEOUT): clean
//     pages are dropped from the process and, when no other process maps
//     them, from the page cache; what the idle process still runs faults back
//     in page by page. It also returns the Go heap's free pages to the system
//     (debug.FreeOSMemory), which the runtime would otherwise do slowly;
//   - afterwards it checks now and then whether the file-backed part has
//     grown again (a burst of work touched more code) and trims again.
//
// Nothing here changes what the process can do: paged-out code is read back
// on its next use. Writable mappings (data, BSS, heap) are never touched, and
// MADV_DONTNEED is never used on them. The cost is the re-reading of pages
// the idle process needs, once per trim.
package memtrim
