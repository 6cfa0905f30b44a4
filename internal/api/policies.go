package api

import "net/http"

// routePolicies registers the policy and logging operations.
func (s *Server) routePolicies(m *http.ServeMux) {
}
