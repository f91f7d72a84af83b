// Package endpoints is the Endpoints controller: for every Service with a
// selector it keeps a core/v1 Endpoints object of the same name listing the
// selected pods — ready ones in addresses, others in notReadyAddresses
// (all in addresses with publishNotReadyAddresses) — with each service port
// resolved against the pod (a named targetPort is looked up among the pod's
// container ports), grouped into subsets by port set as upstream repacks
// them. It sets the endpoints.kubernetes.io/last-change-trigger-time
// annotation, truncates to 1000 addresses with the over-capacity annotation,
// labels headless Services' Endpoints, and deletes the Endpoints of deleted
// Services. Services without a selector (default/kubernetes, whose
// Endpoints the API server keeps) are left alone.
//
// The pod predicates and the trigger-time tracker are exported for the
// EndpointSlice controller, which applies the same rules.
package endpoints
