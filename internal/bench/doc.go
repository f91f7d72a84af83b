// Package bench is kserver's benchmark tool (run by `make bench`, binary
// cmd/kbench). Each benchmark has an ID from docs/benchmarks.md's target
// table (D1 … D4 for the datastore now; A, S, N and X figures later),
// reports one or more figures per run, and is run at least three times;
// the report gives each figure's median with min and max, against its
// target, after the machine's details and the data directory's fsync
// latency.
//
// To add a benchmark: write a func(ctx, *Env) ([]Sample, error) that does
// one run and returns its figures, and add a Benchmark with its ID, title
// and method to the list in Benchmarks. Nothing else needs to change.
package bench
