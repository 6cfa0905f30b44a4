package api

import "net/http"

// routeCertificates registers the certificate, CA certificate and principal operations.
func (s *Server) routeCertificates(m *http.ServeMux) {
}
