package discovery

import (
	"context"
	"fmt"
	"net/url"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNoOpenAPI is returned by OpenAPIV3 when the server's OpenAPI v3 index
// has no document for the group version.
var ErrNoOpenAPI = fmt.Errorf("no openapi v3 document")

// OpenAPIV3 returns the OpenAPI v3 document (JSON) of one group version:
// it reads the index at /openapi/v3 and follows the document's
// serverRelativeURL (which carries the content hash), as client-go does.
func (c *Client) OpenAPIV3(gv schema.GroupVersion) ([]byte, error) {
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := c.getJSON("/openapi/v3", "application/json, */*", &index); err != nil {
		return nil, err
	}
	key := "apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		key = "api/" + gv.Version
	}
	p, ok := index.Paths[key]
	if !ok {
		return nil, fmt.Errorf("%w for %s", ErrNoOpenAPI, gv)
	}
	u, err := url.Parse(p.ServerRelativeURL)
	if err != nil {
		return nil, fmt.Errorf("openapi v3 path %q: %w", p.ServerRelativeURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := c.rest.Get().AbsPath(u.Path).SetHeader("Accept", "application/json")
	for k, vs := range u.Query() {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	return req.Do(ctx).Raw()
}
