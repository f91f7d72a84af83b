// Package image keeps a node's container images: it pulls them from
// registries with go-containerregistry, imports `docker save` and OCI
// archives, unpacks every layer once into a content-addressed store, mounts
// container root filesystems with overlayfs and removes unused images when the
// disk fills up.
//
// It is the node agent's image service, shaped like the kubelet's image
// manager on top of containerd's CRI image service:
//
//   - Ensure applies imagePullPolicy (Always, IfNotPresent, Never), the
//     kubelet's per-pod image back-off and its reasons and messages
//     (ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName).
//   - Pull resolves a name through the mirrors, rewrites and credentials of a
//     k3s-style registries.yaml and the pod's imagePullSecrets, selects the
//     node's platform from multi-arch indexes and records the image ID (the
//     config digest) and repo digests as containerd reports them.
//   - Import reads docker-save and OCI archives, keeping their tags; ImportDir
//     imports every *.tar of the air-gap folder (<data-dir>/agent/images).
//   - PrepareRootfs mounts a container's root filesystem (overlayfs, image
//     layers as lowerdirs, a per-container upper and work dir) and records
//     which image it uses, so that an image in use is never removed, also
//     after a restart; RemoveRootfs unmounts and deletes it.
//   - GarbageCollect frees disk space the way the kubelet's image GC does
//     (high/low thresholds, least recently used first, never an image in use).
//   - NodeImages gives the list for Node status.images.
//
// The on-disk layout is described in docs/image.md. The package knows nothing
// of the API server: the agent hands it pull secrets and pod identities and
// turns its results into container statuses and events.
package image
