package api

import "net/http"

// routeThings registers the thing and thing-group operations.
func (s *Server) routeThings(m *http.ServeMux) {
}
