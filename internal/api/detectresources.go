package api

import (
	"github.com/warden-iot/warden"
)

// Detect's custom metrics and dimensions. The clientRequestToken the SDKs
// fill in makes a create retryable: the store returns what the first
// request stored.

func (s *Server) CreateCustomMetric(c *call) (any, error) {
	var in struct {
		MetricType         *string      `json:"metricType"`
		DisplayName        string       `json:"displayName"`
		Tags               []warden.Tag `json:"tags"`
		ClientRequestToken *string      `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("metricName")
	if err := warden.CheckCustomMetricName(name); err != nil {
		return nil, err
	}
	var v warden.Validator
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	m, err := s.store.CreateCustomMetric(c.ctx, c.scope, warden.CustomMetric{Name: name, Type: *in.MetricType, DisplayName: in.DisplayName},
		in.Tags, *in.ClientRequestToken, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		MetricName string `json:"metricName"`
		MetricArn  string `json:"metricArn"`
	}{m.Name, m.Arn}, nil
}

// customMetricOutput is DescribeCustomMetric's and UpdateCustomMetric's
// answer.
type customMetricOutput struct {
	*warden.CustomMetric
	CreationDate     epoch `json:"creationDate"`
	LastModifiedDate epoch `json:"lastModifiedDate"`
}

func customMetricAnswer(m warden.CustomMetric, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return customMetricOutput{&m, epoch(m.CreationDate), epoch(m.LastModifiedDate)}, nil
}

func (s *Server) DescribeCustomMetric(c *call) (any, error) {
	return customMetricAnswer(s.store.CustomMetric(c.ctx, c.scope, c.r.PathValue("metricName")))
}

func (s *Server) UpdateCustomMetric(c *call) (any, error) {
	var in struct {
		DisplayName *string `json:"displayName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return customMetricAnswer(s.store.UpdateCustomMetric(c.ctx, c.scope, c.r.PathValue("metricName"), *in.DisplayName, s.now().UTC()))
}

// DeleteCustomMetric of a name that does not exist succeeds: the model
// gives the operation no ResourceNotFound.
func (s *Server) DeleteCustomMetric(c *call) (any, error) {
	return nil, s.store.DeleteCustomMetric(c.ctx, c.scope, c.r.PathValue("metricName"), s.now().UTC())
}

func (s *Server) ListCustomMetrics(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]string, string, error) {
		return s.store.CustomMetrics(c.ctx, c.scope, p)
	}, same)
}

func (s *Server) CreateDimension(c *call) (any, error) {
	var in struct {
		Type               *string      `json:"type"`
		StringValues       []string     `json:"stringValues"`
		Tags               []warden.Tag `json:"tags"`
		ClientRequestToken *string      `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	warden.ValidateTopicFilters(&v, "stringValues", in.StringValues)
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	d, err := s.store.CreateDimension(c.ctx, c.scope, warden.Dimension{Name: c.r.PathValue("name"), Type: *in.Type, StringValues: in.StringValues},
		in.Tags, *in.ClientRequestToken, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		Name string `json:"name"`
		Arn  string `json:"arn"`
	}{d.Name, d.Arn}, nil
}

// dimensionOutput is DescribeDimension's and UpdateDimension's answer.
type dimensionOutput struct {
	*warden.Dimension
	CreationDate     epoch `json:"creationDate"`
	LastModifiedDate epoch `json:"lastModifiedDate"`
}

func dimensionAnswer(d warden.Dimension, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return dimensionOutput{&d, epoch(d.CreationDate), epoch(d.LastModifiedDate)}, nil
}

func (s *Server) DescribeDimension(c *call) (any, error) {
	return dimensionAnswer(s.store.Dimension(c.ctx, c.scope, c.r.PathValue("name")))
}

func (s *Server) UpdateDimension(c *call) (any, error) {
	var in struct {
		StringValues []string `json:"stringValues"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	if warden.ValidateTopicFilters(&v, "stringValues", in.StringValues); v.Err() != nil {
		return nil, v.Err()
	}
	return dimensionAnswer(s.store.UpdateDimension(c.ctx, c.scope, c.r.PathValue("name"), in.StringValues, s.now().UTC()))
}

// DeleteDimension of a name that does not exist succeeds, as
// DeleteCustomMetric.
func (s *Server) DeleteDimension(c *call) (any, error) {
	return nil, s.store.DeleteDimension(c.ctx, c.scope, c.r.PathValue("name"), s.now().UTC())
}

func (s *Server) ListDimensions(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]string, string, error) {
		return s.store.Dimensions(c.ctx, c.scope, p)
	}, same)
}
