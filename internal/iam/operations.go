package iam

import (
	"net/url"
	"strconv"
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

// Query-protocol parameter helpers.

func (c *call) get(name string) string { return c.params.Get(name) }

// intParam reads an integer parameter into v under member; ok is false when
// it is absent.
func (c *call) intParam(v *warden.Validator, name, member string) (n int64, ok bool) {
	if !c.params.Has(name) {
		return 0, false
	}
	n, err := protocol.ParseInt(member, c.get(name), 32)
	if err != nil {
		// IAM calls any numeric member's malformed value "not a number".
		v.Fail(member, c.get(name), protocol.RuleNumber)
		return 0, false
	}
	return n, true
}

// tagsParam reads Tags.member.N.Key / Tags.member.N.Value.
func (c *call) tagsParam() []warden.Tag {
	var tags []warden.Tag
	for i := 1; ; i++ {
		prefix := "Tags.member." + strconv.Itoa(i) + "."
		if !c.params.Has(prefix+"Key") && !c.params.Has(prefix+"Value") {
			return tags
		}
		tags = append(tags, warden.Tag{Key: c.get(prefix + "Key"), Value: c.get(prefix + "Value")})
	}
}

// roleNameParam reads and checks the RoleName every role action takes.
func (c *call) roleNameParam(v *warden.Validator) string {
	name := c.get("RoleName")
	v.Required("roleName", c.params.Has("RoleName"))
	if c.params.Has("RoleName") {
		warden.ValidateRoleName(v, "roleName", name)
	}
	return name
}

func (c *call) policyNameParam(v *warden.Validator) string {
	name := c.get("PolicyName")
	v.Required("policyName", c.params.Has("PolicyName"))
	if c.params.Has("PolicyName") {
		warden.ValidateIAMPolicyName(v, "policyName", name)
	}
	return name
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

// pageParams reads Marker and MaxItems.
func (c *call) pageParams(v *warden.Validator) (marker string, limit int) {
	limit = defaultMaxItems
	if n, ok := c.intParam(v, "MaxItems", "maxItems"); ok {
		warden.ValidateMaxItems(v, "maxItems", n)
		limit = int(n)
	}
	if c.params.Has("Marker") {
		marker = c.get("Marker")
		warden.ValidateMarker(v, "marker", marker)
	}
	return marker, limit
}

func (h *Handler) createRole(c *call) (any, error) {
	v := &warden.Validator{}
	r := warden.Role{Name: c.roleNameParam(v), Path: "/", MaxSessionDuration: warden.DefaultMaxSessionDuration, CreateDate: c.now}
	if c.params.Has("Path") {
		r.Path = c.get("Path")
		warden.ValidateIAMPath(v, "path", r.Path)
	}
	v.Required("assumeRolePolicyDocument", c.params.Has("AssumeRolePolicyDocument"))
	if c.params.Has("AssumeRolePolicyDocument") {
		r.AssumeRolePolicyDocument = c.get("AssumeRolePolicyDocument")
		warden.ValidateIAMPolicyDocument(v, "assumeRolePolicyDocument", r.AssumeRolePolicyDocument)
	}
	if c.params.Has("Description") {
		r.Description = c.get("Description")
		warden.ValidateRoleDescription(v, "description", r.Description)
	}
	if n, ok := c.intParam(v, "MaxSessionDuration", "maxSessionDuration"); ok {
		warden.ValidateMaxSessionDuration(v, "maxSessionDuration", n)
		r.MaxSessionDuration = int(n)
	}
	boundary := c.params.Has("PermissionsBoundary")
	if boundary {
		v.Length("permissionsBoundary", c.get("PermissionsBoundary"), 20, 2048)
	}
	r.Tags = c.tagsParam()
	warden.ValidateIAMTags(v, "tags", r.Tags)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	if err := warden.CheckIAMTagKeys(r.Tags); err != nil {
		return nil, err
	}
	if boundary {
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

func (h *Handler) getRole(c *call) (any, error) {
	v := &warden.Validator{}
	name := c.roleNameParam(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	r, err := h.store.Role(c.ctx, c.account, name)
	if err != nil {
		return nil, err
	}
	return roleResult{Role: roleShape(c.account, &r, true)}, nil
}

func (h *Handler) deleteRole(c *call) (any, error) {
	v := &warden.Validator{}
	name := c.roleNameParam(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	return nil, h.store.DeleteRole(c.ctx, c.account, name, c.now)
}

func (h *Handler) listRoles(c *call) (any, error) {
	v := &warden.Validator{}
	prefix := "/"
	if c.params.Has("PathPrefix") {
		prefix = c.get("PathPrefix")
		warden.ValidateIAMPathPrefix(v, "pathPrefix", prefix)
	}
	marker, limit := c.pageParams(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
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

func (h *Handler) putRolePolicy(c *call) (any, error) {
	v := &warden.Validator{}
	role := c.roleNameParam(v)
	policy := c.policyNameParam(v)
	v.Required("policyDocument", c.params.Has("PolicyDocument"))
	doc := c.get("PolicyDocument")
	if c.params.Has("PolicyDocument") {
		warden.ValidateIAMPolicyDocument(v, "policyDocument", doc)
	}
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	if _, err := warden.ParseIAMPolicy(doc); err != nil {
		return nil, err
	}
	return nil, h.store.PutRolePolicy(c.ctx, c.account, role, policy, doc, c.now)
}

func (h *Handler) getRolePolicy(c *call) (any, error) {
	v := &warden.Validator{}
	role := c.roleNameParam(v)
	policy := c.policyNameParam(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	p, err := h.store.RolePolicy(c.ctx, c.account, role, policy)
	if err != nil {
		return nil, err
	}
	return getRolePolicyResult{RoleName: p.RoleName, PolicyName: p.PolicyName, PolicyDocument: encodeDocument(p.Document)}, nil
}

func (h *Handler) deleteRolePolicy(c *call) (any, error) {
	v := &warden.Validator{}
	role := c.roleNameParam(v)
	policy := c.policyNameParam(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
	return nil, h.store.DeleteRolePolicy(c.ctx, c.account, role, policy, c.now)
}

func (h *Handler) listRolePolicies(c *call) (any, error) {
	v := &warden.Validator{}
	role := c.roleNameParam(v)
	marker, limit := c.pageParams(v)
	if err := warden.IAMValidation(v); err != nil {
		return nil, err
	}
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
