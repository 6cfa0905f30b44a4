package iam

import (
	"cmp"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/protocol"
)

// defaultMaxItems is how many items a List action returns without MaxItems.
const defaultMaxItems = 100

type tagXML struct {
	Key   string
	Value string
}

type tagsXML struct {
	Members []tagXML `xml:"member"`
}

// roleLastUsed is always empty: Warden does not track role use.
type roleLastUsed struct{}

// roleXML is the Role shape, members in the order IAM sends them.
type roleXML struct {
	Path                     string
	RoleName                 string
	RoleID                   string `xml:"RoleId"`
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string `xml:",omitempty"`
	Description              string `xml:",omitempty"`
	MaxSessionDuration       int    `xml:",omitempty"`
	Tags                     *tagsXML
	RoleLastUsed             *roleLastUsed
}

type roleResult struct {
	Role roleXML
}

type rolesXML struct {
	Members []roleXML `xml:"member"`
}

type listRolesResult struct {
	Roles       rolesXML
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

type getRolePolicyResult struct {
	RoleName       string
	PolicyName     string
	PolicyDocument string
}

type namesXML struct {
	Members []string `xml:"member"`
}

type listRolePoliciesResult struct {
	PolicyNames namesXML
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

// timestamp formats t as IAM does: ISO-8601 in UTC, whole seconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// encodeDocument URL-encodes a policy document, as IAM returns every policy
// document (the aws CLI decodes them; SDKs hand them over encoded).
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// roleShape is r as IAM shows it. full adds Tags and RoleLastUsed,
// which only GetRole (and CreateRole's Tags) show; ListRoles leaves them out.
func roleShape(account string, r *warden.Role, full bool) roleXML {
	x := roleXML{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: r.ARN(account), CreateDate: timestamp(r.CreateDate),
		AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicyDocument), Description: r.Description,
		MaxSessionDuration: r.MaxSessionDuration}
	if full {
		if len(r.Tags) > 0 {
			x.Tags = &tagsXML{}
			for _, t := range r.Tags {
				x.Tags.Members = append(x.Tags.Members, tagXML(t))
			}
		}
		x.RoleLastUsed = &roleLastUsed{}
	}
	return x
}

// bind fills dst, a pointer to a struct, with the input's members.
func (c *call) bind(dst any) error { return protocol.BindQuery(c.op, c.in, dst) }

// pageParams reads Marker and MaxItems (defaultMaxItems when not sent).
func (c *call) pageParams() (marker string, limit int) {
	limit = defaultMaxItems
	if n, ok := c.in["MaxItems"].(json.Number); ok {
		i, _ := n.Int64() // the model bounds it to 1-1000
		limit = int(i)
	}
	return c.in.String("Marker"), limit
}

// sealMarker turns a store cursor into a Marker bound to the listing it
// came from (operation, account, and the role or path prefix listed). IAM is
// global: a Marker is bound to no region.
func (h *Handler) sealMarker(cursor, op, account, listing string) string {
	return h.pages.Seal(op, warden.Scope{Account: account}, listing, cursor)
}

// openMarker returns the cursor of a Marker that sealMarker made for the
// same listing; "" for no Marker.
func (h *Handler) openMarker(marker, op, account, listing string) (string, error) {
	cursor, err := h.pages.Open(op, warden.Scope{Account: account}, listing, marker)
	if err != nil {
		return "", warden.Errorf(warden.CodeIAMValidationError, "Invalid Marker: it does not come from a previous %s response for this listing.", op)
	}
	return cursor, nil
}

// CreateRole creates a role with its trust policy and tags.
func (h *Handler) CreateRole(c *call) (any, error) {
	var in struct {
		RoleName, Path, AssumeRolePolicyDocument, Description, PermissionsBoundary string
		MaxSessionDuration                                                         int
		Tags                                                                       []warden.Tag
	}
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	// The model's minimums make "" mean not sent.
	r := warden.Role{Name: in.RoleName, Path: cmp.Or(in.Path, "/"), AssumeRolePolicyDocument: in.AssumeRolePolicyDocument,
		Description: in.Description, MaxSessionDuration: cmp.Or(in.MaxSessionDuration, warden.DefaultMaxSessionDuration),
		Tags: in.Tags, CreateDate: c.now}
	// IAM's rules on tag keys that the model cannot express.
	if err := warden.CheckIAMTagKeys(r.Tags); err != nil {
		return nil, err
	}
	if in.PermissionsBoundary != "" {
		// Ignoring a boundary would grant more than the caller meant.
		return nil, warden.Errorf(warden.CodeIAMInvalidInput,
			"PermissionsBoundary is not supported: Warden has no managed policies to use as a boundary.")
	}
	if _, err := warden.ParseTrustPolicy(r.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	if n := warden.PolicyChars(r.AssumeRolePolicyDocument); n > warden.MaxRoleTrustPolicyChars {
		return nil, warden.Errorf(warden.CodeIAMLimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", warden.MaxRoleTrustPolicyChars)
	}
	r.ID = warden.NewRoleID()
	stored, err := h.store.CreateRole(c.ctx, c.account, r)
	if err != nil {
		return nil, err
	}
	x := roleShape(c.account, &stored, true)
	x.RoleLastUsed = nil
	return roleResult{Role: x}, nil
}

// GetRole answers a role with its tags.
func (h *Handler) GetRole(c *call) (any, error) {
	r, err := h.store.Role(c.ctx, c.account, c.in.String("RoleName"))
	if err != nil {
		return nil, err
	}
	return roleResult{Role: roleShape(c.account, &r, true)}, nil
}

// DeleteRole deletes a role that has no inline policies left.
func (h *Handler) DeleteRole(c *call) (any, error) {
	return nil, h.store.DeleteRole(c.ctx, c.account, c.in.String("RoleName"), c.now)
}

// ListRoles lists the roles under a path prefix.
func (h *Handler) ListRoles(c *call) (any, error) {
	prefix := cmp.Or(c.in.String("PathPrefix"), "/")
	marker, limit := c.pageParams()
	cursor, err := h.openMarker(marker, "ListRoles", c.account, prefix)
	if err != nil {
		return nil, err
	}
	roles, next, err := h.store.Roles(c.ctx, c.account, prefix, warden.Page{After: cursor, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := listRolesResult{IsTruncated: next != "", Marker: h.sealMarker(next, "ListRoles", c.account, prefix)}
	for i := range roles {
		out.Roles.Members = append(out.Roles.Members, roleShape(c.account, &roles[i], false))
	}
	return out, nil
}

// PutRolePolicy adds or replaces an inline policy of a role.
func (h *Handler) PutRolePolicy(c *call) (any, error) {
	doc := c.in.String("PolicyDocument")
	if _, err := warden.ParseIAMPolicy(doc); err != nil {
		return nil, err
	}
	return nil, h.store.PutRolePolicy(c.ctx, c.account, c.in.String("RoleName"), c.in.String("PolicyName"), doc, c.now)
}

// GetRolePolicy answers an inline policy, its document URL-encoded.
func (h *Handler) GetRolePolicy(c *call) (any, error) {
	p, err := h.store.RolePolicy(c.ctx, c.account, c.in.String("RoleName"), c.in.String("PolicyName"))
	if err != nil {
		return nil, err
	}
	return getRolePolicyResult{RoleName: p.RoleName, PolicyName: p.PolicyName, PolicyDocument: encodeDocument(p.Document)}, nil
}

// DeleteRolePolicy deletes an inline policy.
func (h *Handler) DeleteRolePolicy(c *call) (any, error) {
	return nil, h.store.DeleteRolePolicy(c.ctx, c.account, c.in.String("RoleName"), c.in.String("PolicyName"), c.now)
}

// ListRolePolicies lists the names of a role's inline policies.
func (h *Handler) ListRolePolicies(c *call) (any, error) {
	role := c.in.String("RoleName")
	marker, limit := c.pageParams()
	listing := warden.RoleNameKey(role)
	cursor, err := h.openMarker(marker, "ListRolePolicies", c.account, listing)
	if err != nil {
		return nil, err
	}
	names, next, err := h.store.RolePolicies(c.ctx, c.account, role, warden.Page{After: cursor, Limit: limit})
	if err != nil {
		return nil, err
	}
	return listRolePoliciesResult{PolicyNames: namesXML{Members: names}, IsTruncated: next != "",
		Marker: h.sealMarker(next, "ListRolePolicies", c.account, listing)}, nil
}
