package api

import (
	"github.com/warden-iot/warden"
)

// registryPageSize is the default page of the registry list operations
// (RegistryMaxResults allows 1..250).
const registryPageSize = 50

// attributePayload is the model's AttributePayload; absent or null, it is
// the zero value.
type attributePayload struct {
	Attributes map[string]string `json:"attributes"`
	Merge      bool              `json:"merge"`
}

// --- things ---

func (s *Server) CreateThing(c *call) (any, error) {
	var in struct {
		ThingTypeName    *string          `json:"thingTypeName"`
		AttributePayload attributePayload `json:"attributePayload"`
		BillingGroupName *string          `json:"billingGroupName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.BillingGroupName != nil {
		// Warden has no billing groups, so none can be named.
		return nil, warden.NotFound("Billing group", *in.BillingGroupName)
	}
	now := s.now().UTC()
	t, _, err := s.store.CreateThing(c.ctx, c.scope, warden.Thing{
		Name: c.r.PathValue("thingName"), ID: warden.NewUUID(), TypeName: deref(in.ThingTypeName), Attributes: in.AttributePayload.Attributes,
		CreationDate: now, LastModifiedDate: now,
	})
	if err != nil {
		return nil, err
	}
	return struct {
		ThingName string `json:"thingName"`
		ThingArn  string `json:"thingArn"`
		ThingID   string `json:"thingId"`
	}{t.Name, t.ARN(c.scope), t.ID}, nil
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

func (s *Server) DescribeThing(c *call) (any, error) {
	t, err := s.store.Thing(c.ctx, c.scope, c.r.PathValue("thingName"))
	if err != nil {
		return nil, err
	}
	return struct {
		DefaultClientID string            `json:"defaultClientId"`
		ThingName       string            `json:"thingName"`
		ThingID         string            `json:"thingId"`
		ThingArn        string            `json:"thingArn"`
		ThingTypeName   string            `json:"thingTypeName,omitempty"`
		Attributes      map[string]string `json:"attributes"`
		Version         int64             `json:"version"`
	}{t.Name, t.Name, t.ID, t.ARN(c.scope), t.TypeName, nonNilMap(t.Attributes), t.Version}, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Server) UpdateThing(c *call) (any, error) {
	var in struct {
		ThingTypeName    *string          `json:"thingTypeName"`
		AttributePayload attributePayload `json:"attributePayload"`
		ExpectedVersion  *int64           `json:"expectedVersion"`
		RemoveThingType  bool             `json:"removeThingType"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.ThingUpdate{TypeName: in.ThingTypeName, RemoveThingType: in.RemoveThingType,
		Attributes: in.AttributePayload.Attributes, Merge: in.AttributePayload.Merge, ExpectedVersion: in.ExpectedVersion}
	if err := u.Check(); err != nil {
		return nil, err
	}
	_, err := s.store.UpdateThing(c.ctx, c.scope, c.r.PathValue("thingName"), u, s.now().UTC())
	return nil, err
}

func (s *Server) DeleteThing(c *call) (any, error) {
	return nil, s.store.DeleteThing(c.ctx, c.scope, c.r.PathValue("thingName"), c.expectedVersion(), s.now().UTC())
}

type thingAttribute struct {
	ThingName     string            `json:"thingName"`
	ThingTypeName string            `json:"thingTypeName,omitempty"`
	ThingArn      string            `json:"thingArn"`
	Attributes    map[string]string `json:"attributes"`
	Version       int64             `json:"version"`
}

func (s *Server) ListThings(c *call) (any, error) {
	f := warden.ThingFilter{AttributeName: c.input.String("attributeName"), AttributeValue: optional[string](c, "attributeValue"),
		TypeName: c.input.String("thingTypeName"), UsePrefix: c.input.Bool("usePrefixAttributeValue")}
	if err := f.Check(); err != nil {
		return nil, err
	}
	return listPage(c, registryPageSize, func(p warden.Page) ([]warden.Thing, string, error) {
		return s.store.Things(c.ctx, c.scope, f, p)
	}, func(t *warden.Thing) thingAttribute {
		return thingAttribute{t.Name, t.TypeName, t.ARN(c.scope), nonNilMap(t.Attributes), t.Version}
	})
}

type groupNameAndArn struct {
	GroupName string `json:"groupName"`
	GroupArn  string `json:"groupArn"`
}

func (c *call) groupList(names []string) []groupNameAndArn { return wireAll(names, c.groupRef) }

// groupRef is the name and ARN of the thing group named name.
func (c *call) groupRef(name *string) groupNameAndArn {
	return groupNameAndArn{*name, warden.ThingGroupARN(c.scope, *name)}
}

func (s *Server) ListThingGroupsForThing(c *call) (any, error) {
	return listPage(c, registryPageSize, func(p warden.Page) ([]string, string, error) {
		return s.store.ThingGroupsForThing(c.ctx, c.scope, c.r.PathValue("thingName"), p)
	}, c.groupRef)
}

// --- thing groups ---

type thingGroupPropertiesIn struct {
	ThingGroupDescription *string          `json:"thingGroupDescription"`
	AttributePayload      attributePayload `json:"attributePayload"`
}

type groupRef struct {
	ThingGroupName string `json:"thingGroupName"`
	ThingGroupArn  string `json:"thingGroupArn"`
	ThingGroupID   string `json:"thingGroupId"`
}

func (s *Server) CreateThingGroup(c *call) (any, error) {
	var in struct {
		ParentGroupName      *string                `json:"parentGroupName"`
		ThingGroupProperties thingGroupPropertiesIn `json:"thingGroupProperties"`
		Tags                 []warden.Tag           `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("thingGroupName")
	var v warden.Validator
	if in.ParentGroupName != nil && *in.ParentGroupName == name {
		v.Problem("a thing group cannot be its own parent")
	}
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	g, _, err := s.store.CreateThingGroup(c.ctx, c.scope, warden.ThingGroup{
		Name: name, ID: warden.NewUUID(), ParentName: deref(in.ParentGroupName),
		Description: deref(in.ThingGroupProperties.ThingGroupDescription), Attributes: in.ThingGroupProperties.AttributePayload.Attributes,
		CreationDate: now, LastModifiedDate: now,
	}, in.Tags)
	if err != nil {
		return nil, err
	}
	return groupRef{g.Name, g.ARN(c.scope), g.ID}, nil
}

type thingGroupPropertiesOut struct {
	ThingGroupDescription string             `json:"thingGroupDescription,omitempty"`
	AttributePayload      *attributesOnlyOut `json:"attributePayload,omitempty"`
}

type attributesOnlyOut struct {
	Attributes map[string]string `json:"attributes"`
}

func (s *Server) DescribeThingGroup(c *call) (any, error) {
	g, err := s.store.ThingGroup(c.ctx, c.scope, c.r.PathValue("thingGroupName"))
	if err != nil {
		return nil, err
	}
	props := thingGroupPropertiesOut{ThingGroupDescription: g.Description}
	if len(g.Attributes) > 0 {
		props.AttributePayload = &attributesOnlyOut{g.Attributes}
	}
	type metadata struct {
		ParentGroupName         string            `json:"parentGroupName,omitempty"`
		RootToParentThingGroups []groupNameAndArn `json:"rootToParentThingGroups,omitempty"`
		CreationDate            epoch             `json:"creationDate"`
	}
	out := struct {
		ThingGroupName       string                  `json:"thingGroupName"`
		ThingGroupID         string                  `json:"thingGroupId"`
		ThingGroupArn        string                  `json:"thingGroupArn"`
		Version              int64                   `json:"version"`
		ThingGroupProperties thingGroupPropertiesOut `json:"thingGroupProperties"`
		ThingGroupMetadata   metadata                `json:"thingGroupMetadata"`
		IndexName            string                  `json:"indexName,omitempty"`
		QueryString          string                  `json:"queryString,omitempty"`
		QueryVersion         string                  `json:"queryVersion,omitempty"`
		Status               string                  `json:"status,omitempty"`
	}{
		ThingGroupName: g.Name, ThingGroupID: g.ID, ThingGroupArn: g.ARN(c.scope), Version: g.Version,
		ThingGroupProperties: props,
		ThingGroupMetadata:   metadata{ParentGroupName: g.ParentName, CreationDate: epoch(g.CreationDate)},
	}
	if len(g.RootToParent) > 0 {
		out.ThingGroupMetadata.RootToParentThingGroups = c.groupList(g.RootToParent)
	}
	if q := g.Query; q != nil {
		out.IndexName, out.QueryString, out.QueryVersion, out.Status = q.IndexName, q.QueryString, q.QueryVersion, q.Status
	}
	return out, nil
}

func (s *Server) UpdateThingGroup(c *call) (any, error) {
	return s.updateThingGroup(c, false)
}

func (s *Server) UpdateDynamicThingGroup(c *call) (any, error) {
	return s.updateThingGroup(c, true)
}

// updateThingGroup serves UpdateThingGroup and UpdateDynamicThingGroup; the
// latter also takes the query members.
func (s *Server) updateThingGroup(c *call, dynamic bool) (any, error) {
	var in struct {
		ThingGroupProperties thingGroupPropertiesIn `json:"thingGroupProperties"`
		ExpectedVersion      *int64                 `json:"expectedVersion"`
		IndexName            *string                `json:"indexName"`
		QueryString          *string                `json:"queryString"`
		QueryVersion         *string                `json:"queryVersion"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.ThingGroupUpdate{
		Dynamic: dynamic, Description: in.ThingGroupProperties.ThingGroupDescription,
		Attributes: in.ThingGroupProperties.AttributePayload.Attributes, Merge: in.ThingGroupProperties.AttributePayload.Merge,
		ExpectedVersion: in.ExpectedVersion,
	}
	if dynamic {
		if err := warden.CheckDynamicGroupQuery(in.IndexName, in.QueryString, in.QueryVersion); err != nil {
			return nil, err
		}
		u.QueryString = in.QueryString
	}
	g, err := s.store.UpdateThingGroup(c.ctx, c.scope, c.r.PathValue("thingGroupName"), u, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		Version int64 `json:"version"`
	}{g.Version}, nil
}

func (s *Server) DeleteThingGroup(c *call) (any, error) {
	return s.deleteThingGroup(c, false)
}

func (s *Server) DeleteDynamicThingGroup(c *call) (any, error) {
	return s.deleteThingGroup(c, true)
}

func (s *Server) deleteThingGroup(c *call, dynamic bool) (any, error) {
	return nil, s.store.DeleteThingGroup(c.ctx, c.scope, c.r.PathValue("thingGroupName"), dynamic, c.expectedVersion(), s.now().UTC())
}

func (s *Server) ListThingGroups(c *call) (any, error) {
	f := warden.ThingGroupFilter{Parent: c.input.String("parentGroup"), NamePrefix: c.input.String("namePrefixFilter"), Recursive: optional[bool](c, "recursive")}
	return listPage(c, registryPageSize, func(p warden.Page) ([]string, string, error) {
		return s.store.ThingGroups(c.ctx, c.scope, f, p)
	}, c.groupRef)
}

func (s *Server) ListThingsInThingGroup(c *call) (any, error) {
	return listPage(c, registryPageSize, func(p warden.Page) ([]string, string, error) {
		return s.store.ThingsInThingGroup(c.ctx, c.scope, c.r.PathValue("thingGroupName"), c.input.Bool("recursive"), p)
	}, same)
}

// membershipRequest is the body of AddThingToThingGroup and
// RemoveThingFromThingGroup: each side is named by name or by ARN.
type membershipRequest struct {
	ThingGroupName        *string `json:"thingGroupName"`
	ThingGroupArn         *string `json:"thingGroupArn"`
	ThingName             *string `json:"thingName"`
	ThingArn              *string `json:"thingArn"`
	OverrideDynamicGroups *bool   `json:"overrideDynamicGroups"`
}

// resolve returns the thing and group names the request names.
func (c *call) resolve(in *membershipRequest) (thing, group string, err error) {
	return warden.ResolveMembership(c.scope, in.ThingName, in.ThingArn, in.ThingGroupName, in.ThingGroupArn)
}

func (s *Server) AddThingToThingGroup(c *call) (any, error) {
	var in membershipRequest
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	thing, group, err := c.resolve(&in)
	if err != nil {
		return nil, err
	}
	override := in.OverrideDynamicGroups != nil && *in.OverrideDynamicGroups
	return nil, s.store.AddThingToThingGroup(c.ctx, c.scope, thing, group, override, s.now().UTC())
}

func (s *Server) RemoveThingFromThingGroup(c *call) (any, error) {
	var in membershipRequest
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	thing, group, err := c.resolve(&in)
	if err != nil {
		return nil, err
	}
	return nil, s.store.RemoveThingFromThingGroup(c.ctx, c.scope, thing, group, s.now().UTC())
}

// --- dynamic thing groups ---

func (s *Server) CreateDynamicThingGroup(c *call) (any, error) {
	var in struct {
		ThingGroupProperties thingGroupPropertiesIn `json:"thingGroupProperties"`
		IndexName            *string                `json:"indexName"`
		QueryString          *string                `json:"queryString"`
		QueryVersion         *string                `json:"queryVersion"`
		Tags                 []warden.Tag           `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := checkTagCount(in.Tags); err != nil {
		return nil, err
	}
	if err := warden.CheckDynamicGroupQuery(in.IndexName, in.QueryString, in.QueryVersion); err != nil {
		return nil, err
	}
	q := warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryString: *in.QueryString, QueryVersion: warden.DefaultQueryVersion}
	now := s.now().UTC()
	g, _, err := s.store.CreateThingGroup(c.ctx, c.scope, warden.ThingGroup{
		Name: c.r.PathValue("thingGroupName"), ID: warden.NewUUID(),
		Description: deref(in.ThingGroupProperties.ThingGroupDescription), Attributes: in.ThingGroupProperties.AttributePayload.Attributes,
		CreationDate: now, LastModifiedDate: now, Query: &q,
	}, in.Tags)
	if err != nil {
		return nil, err
	}
	return struct {
		groupRef
		IndexName    string `json:"indexName"`
		QueryString  string `json:"queryString"`
		QueryVersion string `json:"queryVersion"`
	}{groupRef{g.Name, g.ARN(c.scope), g.ID}, g.Query.IndexName, g.Query.QueryString, g.Query.QueryVersion}, nil
}
