package api

// routeIoT registers one handler per AWS IoT operation. Paths and methods are
// the AWS model's; anything else is answered by unknownOperation.
func (s *Server) routeIoT() {
	m := s.iot
	m.Handle("POST /mitigationactions/actions/{actionName}", s.op("CreateMitigationAction", s.handleCreateMitigationAction))
	m.Handle("PATCH /mitigationactions/actions/{actionName}", s.op("UpdateMitigationAction", s.handleUpdateMitigationAction))
	m.Handle("DELETE /mitigationactions/actions/{actionName}", s.op("DeleteMitigationAction", s.handleDeleteMitigationAction))
	m.Handle("GET /mitigationactions/actions/{actionName}", s.op("DescribeMitigationAction", s.handleDescribeMitigationAction))
	m.Handle("GET /mitigationactions/actions", s.op("ListMitigationActions", s.handleListMitigationActions))
	// An empty name (the model sets no minimum, so clients send it) is a
	// validation error of the operation, not an unknown path.
	m.Handle("POST /mitigationactions/actions/{$}", s.op("CreateMitigationAction", s.handleCreateMitigationAction))
	m.Handle("PATCH /mitigationactions/actions/{$}", s.op("UpdateMitigationAction", s.handleUpdateMitigationAction))
	m.Handle("DELETE /mitigationactions/actions/{$}", s.op("DeleteMitigationAction", s.handleDeleteMitigationAction))
	m.Handle("GET /mitigationactions/actions/{$}", s.op("DescribeMitigationAction", s.handleDescribeMitigationAction))
	// Without an exact pattern for the other methods, ServeMux would answer
	// them with a redirect to the {$} patterns above.
	m.Handle("/mitigationactions/actions", s.op("", unknownOperation))

	m.Handle("POST /tags", s.op("TagResource", s.handleTagResource))
	m.Handle("GET /tags", s.op("ListTagsForResource", s.handleListTagsForResource))
	m.Handle("POST /untag", s.op("UntagResource", s.handleUntagResource))

	s.routeThings(m)
	s.routeCertificates(m)
	s.routePolicies(m)
	s.routeMitigationTasks(m)
	s.routeAudits(m)
	s.routeAuthz(m)

	m.Handle("GET /endpoint", s.op("DescribeEndpoint", s.handleDescribeEndpoint))

	m.Handle("/", s.op("", unknownOperation))
}
