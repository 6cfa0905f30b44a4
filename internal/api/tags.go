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
	if err := checkTagCount(in.Tags); err != nil {
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
	return listPage(c, warden.MaxTagsPerResource, func(p warden.Page) ([]warden.Tag, string, error) {
		return s.store.Tags(c.ctx, c.scope, arn, p)
	}, same)
}
