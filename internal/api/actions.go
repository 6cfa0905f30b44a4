package api

import (
	"github.com/warden-iot/warden"
)

type actionRef struct {
	ActionArn string `json:"actionArn"`
	ActionID  string `json:"actionId"`
}

func (s *Server) CreateMitigationAction(c *call) (any, error) {
	var in struct {
		RoleArn      *string                        `json:"roleArn"`
		ActionParams *warden.MitigationActionParams `json:"actionParams"`
		Tags         []warden.Tag                   `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	in.ActionParams.Validate(&v, "actionParams")
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a, _, err := s.store.CreateMitigationAction(c.ctx, c.scope, warden.MitigationAction{
		Name: c.r.PathValue("actionName"), ID: warden.NewUUID(), RoleArn: *in.RoleArn, Params: *in.ActionParams,
		CreationDate: now, LastModifiedDate: now,
	}, in.Tags)
	if err != nil {
		return nil, err
	}
	return actionRef{ActionArn: a.ARN(c.scope), ActionID: a.ID}, nil
}

func (s *Server) UpdateMitigationAction(c *call) (any, error) {
	var in struct {
		RoleArn      *string                        `json:"roleArn"`
		ActionParams *warden.MitigationActionParams `json:"actionParams"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.ActionParams != nil {
		var v warden.Validator
		if in.ActionParams.Validate(&v, "actionParams"); v.Err() != nil {
			return nil, v.Err()
		}
	}
	a, err := s.store.UpdateMitigationAction(c.ctx, c.scope, c.r.PathValue("actionName"), in.RoleArn, in.ActionParams, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return actionRef{ActionArn: a.ARN(c.scope), ActionID: a.ID}, nil
}

func (s *Server) DeleteMitigationAction(c *call) (any, error) {
	return nil, s.store.DeleteMitigationAction(c.ctx, c.scope, c.r.PathValue("actionName"))
}

func (s *Server) DescribeMitigationAction(c *call) (any, error) {
	a, err := s.store.MitigationAction(c.ctx, c.scope, c.r.PathValue("actionName"))
	if err != nil {
		return nil, err
	}
	return struct {
		ActionName       string                         `json:"actionName"`
		ActionType       string                         `json:"actionType"`
		ActionArn        string                         `json:"actionArn"`
		ActionID         string                         `json:"actionId"`
		RoleArn          string                         `json:"roleArn"`
		ActionParams     *warden.MitigationActionParams `json:"actionParams"`
		CreationDate     epoch                          `json:"creationDate"`
		LastModifiedDate epoch                          `json:"lastModifiedDate"`
	}{a.Name, a.Params.Type(), a.ARN(c.scope), a.ID, a.RoleArn, &a.Params, epoch(a.CreationDate), epoch(a.LastModifiedDate)}, nil
}

type actionIdentifier struct {
	ActionName   string `json:"actionName"`
	ActionArn    string `json:"actionArn"`
	CreationDate epoch  `json:"creationDate"`
}

func (s *Server) ListMitigationActions(c *call) (any, error) {
	actionType := c.r.URL.Query().Get("actionType")
	return listPage(c, 25, func(p warden.Page) ([]warden.MitigationAction, string, error) {
		return s.store.MitigationActions(c.ctx, c.scope, actionType, p)
	}, func(a *warden.MitigationAction) actionIdentifier {
		return actionIdentifier{a.Name, a.ARN(c.scope), epoch(a.CreationDate)}
	})
}
