// Package describe prints `kctl describe` output with kubectl's layouts:
// the same sections, labels, tab-writer alignment (text/tabwriter, min width
// 0, tab width 8, padding 2) and the Events table at the end. Each kind's
// describer reads typed k8s.io/api objects converted from what the dynamic
// client returns, plus the related objects kubectl lists (events, pods,
// ReplicaSets, EndpointSlices, ...).
package describe
