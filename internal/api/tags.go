package api

import (
	"github.com/warden-iot/warden"
)

func (s *Server) TagResource(c *call) (any, error) {
	var in struct {
		ResourceArn *string      `json:"resourceArn"`
		Tags        []warden.Tag `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.TagResource(c.ctx, c.scope, *in.ResourceArn, in.Tags)
}

func (s *Server) UntagResource(c *call) (any, error) {
	var in struct {
		ResourceArn *string  `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.UntagResource(c.ctx, c.scope, *in.ResourceArn, in.TagKeys)
}

func (s *Server) ListTagsForResource(c *call) (any, error) {
	arn := c.r.URL.Query().Get("resourceArn")
	p, err := c.page(warden.MaxTagsPerResource)
	if err != nil {
		return nil, err
	}
	tags, next, err := s.store.Tags(c.ctx, c.scope, arn, p)
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []warden.Tag{}
	}
	return struct {
		Tags      []warden.Tag `json:"tags"`
		NextToken string       `json:"nextToken,omitempty"`
	}{tags, c.nextPage(next)}, nil
}
