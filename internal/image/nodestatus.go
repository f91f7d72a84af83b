package image

import (
	corev1 "k8s.io/api/core/v1"
)

// Limits of Node status.images, as the kubelet applies them.
const (
	// DefaultNodeStatusMaxImages is kubelet --node-status-max-images.
	DefaultNodeStatusMaxImages = 50
	// MaxNamesPerImageInNodeStatus caps the names listed per image.
	MaxNamesPerImageInNodeStatus = 5
)

// NodeImages returns Node status.images: the largest images first, at most
// max of them (max < 0 means all), each named by its repo digests and then
// its repo tags, at most five names.
func (s *Store) NodeImages(max int) []corev1.ContainerImage {
	imgs := s.List()
	if max >= 0 && len(imgs) > max {
		imgs = imgs[:max]
	}
	out := make([]corev1.ContainerImage, 0, len(imgs))
	for _, im := range imgs {
		names := append(append([]string{}, im.RepoDigests...), im.RepoTags...)
		if len(names) > MaxNamesPerImageInNodeStatus {
			names = names[:MaxNamesPerImageInNodeStatus]
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: im.Size})
	}
	return out
}
