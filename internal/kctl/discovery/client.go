package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"sort"
	"strings"
	"sync"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
)

// acceptAggregated is what kubectl 1.37 sends on /api and /apis: aggregated
// discovery v2, else the legacy shapes.
const acceptAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

// requestTimeout is client-go's discovery timeout (sent as ?timeout=32s).
const requestTimeout = 32 * time.Second

// Client answers discovery questions from the disk cache when it is fresh
// enough and from the server otherwise. It is safe for concurrent use.
type Client struct {
	rest  rest.Interface
	cache *diskCache

	mu sync.Mutex
	// live is what this process fetched from the server's /api and /apis.
	live *serverState
}

// serverState is one download of /api and /apis. resources is nil when the
// server answered with the legacy shapes (then each group version is
// fetched on its own).
type serverState struct {
	groups    *metav1.APIGroupList
	resources map[schema.GroupVersion]*metav1.APIResourceList
	failed    map[schema.GroupVersion]error
}

// New returns a client for the server cfg points at. dir is the per-server
// cache folder (see CacheDir); "" disables the disk cache. ttl is how long
// cached files are trusted (kubectl: six hours).
func New(cfg *rest.Config, dir string, ttl time.Duration) (*Client, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = ""
	c.GroupVersion = nil
	if c.Timeout == 0 {
		c.Timeout = requestTimeout
	}
	// A codec that knows metav1.Status, so that error bodies become API
	// errors; discovery bodies themselves are decoded as plain JSON.
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	c.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &Client{rest: rc, cache: newDiskCache(dir, ttl)}, nil
}

// RESTClient is the raw client discovery uses (no group version).
func (c *Client) RESTClient() rest.Interface { return c.rest }

// Fresh reports whether everything answered so far came from the server in
// this process (nothing from an older cache file), so that a miss is real.
func (c *Client) Fresh() bool { return c.cache.isFresh() }

// Invalidate makes the next answers come from the server again.
func (c *Client) Invalidate() {
	c.cache.invalidate()
	c.mu.Lock()
	c.live = nil
	c.mu.Unlock()
}

// ServerGroups returns every group with its versions, the core group ("")
// first, in the server's order.
func (c *Client) ServerGroups() (*metav1.APIGroupList, error) {
	var cached metav1.APIGroupList
	if c.cache.read(groupsFile, &cached) {
		return &cached, nil
	}
	st, err := c.download()
	if err != nil {
		return nil, err
	}
	if len(st.groups.Groups) > 0 {
		c.cache.write(groupsFile, &metav1.APIGroupList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: st.groups.Groups})
	}
	return st.groups, nil
}

// ServerResourcesForGroupVersion returns the resources (subresources
// included, as `parent/sub`) of one group version such as "v1" or "apps/v1".
func (c *Client) ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error) {
	file := resourcesFile(groupVersion)
	var cached metav1.APIResourceList
	if c.cache.read(file, &cached) {
		return &cached, nil
	}
	list, err := c.liveResources(groupVersion)
	if err != nil {
		return nil, err
	}
	if len(list.APIResources) > 0 {
		out := *list
		out.TypeMeta = metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}
		c.cache.write(file, &out)
	}
	return list, nil
}

func (c *Client) liveResources(groupVersion string) (*metav1.APIResourceList, error) {
	gv, err := schema.ParseGroupVersion(groupVersion)
	if err != nil {
		return nil, err
	}
	st, err := c.download()
	if err != nil {
		return nil, err
	}
	if st.resources != nil {
		if ferr := st.failed[gv]; ferr != nil {
			return nil, ferr
		}
		if l, ok := st.resources[gv]; ok {
			return l, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: gv.Version}, "")
	}
	path := "/apis/" + groupVersion
	if gv.Group == "" {
		path = "/api/" + groupVersion
	}
	var l metav1.APIResourceList
	if err := c.getJSON(path, "", &l); err != nil {
		return nil, err
	}
	l.GroupVersion = groupVersion
	return &l, nil
}

// ServerGroupsAndResources returns the groups and the resources of every
// group version in discovery order. When some group versions fail, the
// others are returned with an *ErrGroupDiscoveryFailed.
func (c *Client) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	groups, err := c.ServerGroups()
	if err != nil {
		return nil, nil, err
	}
	var out []*metav1.APIGroup
	var gvs []string
	for i := range groups.Groups {
		out = append(out, &groups.Groups[i])
		for _, v := range groups.Groups[i].Versions {
			gvs = append(gvs, v.GroupVersion)
		}
	}
	lists := make([]*metav1.APIResourceList, len(gvs))
	errs := make([]error, len(gvs))
	var wg sync.WaitGroup
	for i, gv := range gvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = c.ServerResourcesForGroupVersion(gv)
		}()
	}
	wg.Wait()
	var result []*metav1.APIResourceList
	failed := map[schema.GroupVersion]error{}
	for i, gv := range gvs {
		if errs[i] != nil {
			// A group version the server does not have (404) is skipped
			// silently, as client-go does.
			if !apierrors.IsNotFound(errs[i]) {
				pgv, _ := schema.ParseGroupVersion(gv)
				failed[pgv] = errs[i]
			}
			continue
		}
		result = append(result, lists[i])
	}
	// Group versions the server marked Stale are not in the groups at all.
	c.mu.Lock()
	if c.live != nil {
		for gv, err := range c.live.failed {
			failed[gv] = err
		}
	}
	c.mu.Unlock()
	if len(failed) > 0 {
		return out, result, &ErrGroupDiscoveryFailed{Groups: failed}
	}
	return out, result, nil
}

// ServerPreferredResources returns, for every group, each resource once: in
// the group's preferred version when it has it there, else in the first
// version that has it. Subresources are left out.
func (c *Client) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	groups, lists, err := c.ServerGroupsAndResources()
	if groups == nil {
		return nil, err
	}
	byGV := map[string]*metav1.APIResourceList{}
	for _, l := range lists {
		byGV[l.GroupVersion] = l
	}
	var out []*metav1.APIResourceList
	for _, g := range groups {
		// The preferred version first, then the others in server order.
		versions := []metav1.GroupVersionForDiscovery{g.PreferredVersion}
		for _, v := range g.Versions {
			if v.Version != g.PreferredVersion.Version {
				versions = append(versions, v)
			}
		}
		seen := map[string]bool{}
		for _, v := range versions {
			l, ok := byGV[v.GroupVersion]
			if !ok {
				continue
			}
			pl := &metav1.APIResourceList{GroupVersion: v.GroupVersion}
			for _, r := range l.APIResources {
				if strings.Contains(r.Name, "/") || seen[r.Name] {
					continue
				}
				seen[r.Name] = true
				pl.APIResources = append(pl.APIResources, r)
			}
			out = append(out, pl)
		}
	}
	return out, err
}

// ServerVersion asks /version (never cached).
func (c *Client) ServerVersion() (*version.Info, error) {
	var info version.Info
	if err := c.getJSON("/version", "", &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// download fetches /api and /apis once per process (or after Invalidate).
func (c *Client) download() (*serverState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live != nil {
		return c.live, nil
	}
	core, coreRes, coreFailed, err := c.downloadRoot("/api")
	if err != nil {
		return nil, err
	}
	named, namedRes, namedFailed, err := c.downloadRoot("/apis")
	if err != nil {
		return nil, err
	}
	st := &serverState{groups: &metav1.APIGroupList{Groups: append(core, named...)}, failed: map[schema.GroupVersion]error{}}
	// Resources count only when both answers were aggregated.
	if coreRes != nil && namedRes != nil {
		st.resources = coreRes
		for gv, l := range namedRes {
			st.resources[gv] = l
		}
	}
	for gv, e := range coreFailed {
		st.failed[gv] = e
	}
	for gv, e := range namedFailed {
		st.failed[gv] = e
	}
	c.live = st
	return st, nil
}

// downloadRoot fetches /api or /apis. resources is non-nil only for an
// aggregated answer. A 404 on /api is an empty core group.
func (c *Client) downloadRoot(path string) ([]metav1.APIGroup, map[schema.GroupVersion]*metav1.APIResourceList, map[schema.GroupVersion]error, error) {
	var contentType string
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	body, err := c.rest.Get().AbsPath(path).SetHeader("Accept", acceptAggregated).Do(ctx).ContentType(&contentType).Raw()
	if err != nil {
		if path == "/api" && apierrors.IsNotFound(err) {
			return nil, map[schema.GroupVersion]*metav1.APIResourceList{}, nil, nil
		}
		return nil, nil, nil, err
	}
	if isAggregated(contentType) {
		var agg apidiscoveryv2.APIGroupDiscoveryList
		if err := json.Unmarshal(body, &agg); err != nil {
			return nil, nil, nil, fmt.Errorf("decode %s: %w", path, err)
		}
		groups, res, failed := splitAggregated(&agg)
		return groups, res, failed, nil
	}
	if path == "/api" {
		var v metav1.APIVersions
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, nil, nil, fmt.Errorf("decode %s: %w", path, err)
		}
		g := metav1.APIGroup{}
		for _, ver := range v.Versions {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: ver, Version: ver})
		}
		if len(g.Versions) > 0 {
			g.PreferredVersion = g.Versions[0]
		}
		return []metav1.APIGroup{g}, nil, nil, nil
	}
	var l metav1.APIGroupList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return l.Groups, nil, nil, nil
}

// isAggregated reports whether a Content-Type is aggregated discovery v2
// (parameter order and extra parameters do not matter).
func isAggregated(contentType string) bool {
	base, params, err := mime.ParseMediaType(contentType)
	return err == nil && base == "application/json" && params["g"] == "apidiscovery.k8s.io" &&
		params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList"
}

func (c *Client) getJSON(path, accept string, into any) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := c.rest.Get().AbsPath(path)
	if accept != "" {
		req = req.SetHeader("Accept", accept)
	}
	body, err := req.Do(ctx).Raw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// ErrGroupDiscoveryFailed is returned with partial results when some group
// versions could not be discovered.
type ErrGroupDiscoveryFailed struct {
	Groups map[schema.GroupVersion]error
}

func (e *ErrGroupDiscoveryFailed) Error() string {
	var groups []string
	for gv, err := range e.Groups {
		groups = append(groups, fmt.Sprintf("%s: %v", gv, err))
	}
	sort.Strings(groups)
	return "unable to retrieve the complete list of server APIs: " + strings.Join(groups, ", ")
}

// IsGroupDiscoveryFailedError reports whether err is a partial discovery.
func IsGroupDiscoveryFailedError(err error) bool {
	var e *ErrGroupDiscoveryFailed
	return errors.As(err, &e)
}
