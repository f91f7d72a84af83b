package apiserver

import apierrors "k8s.io/apimachinery/pkg/api/errors"

func (s *Server) serveScale(c *call)    { c.fail(apierrors.NewServiceUnavailable("not yet")) }
func (s *Server) serveBinding(c *call)  { c.fail(apierrors.NewServiceUnavailable("not yet")) }
func (s *Server) serveEviction(c *call) { c.fail(apierrors.NewServiceUnavailable("not yet")) }
func (s *Server) serveToken(c *call)    { c.fail(apierrors.NewServiceUnavailable("not yet")) }
