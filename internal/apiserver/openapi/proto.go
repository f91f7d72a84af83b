package openapi

import (
	"encoding/json"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
)

// The protobuf form of the v2 document is gnostic's openapi_v2.Document,
// the message client-go unmarshals /openapi/v2 into. It is built straight
// from the model (parsing the JSON with gnostic would cost tens of
// megabytes) and written in pieces: a document holding everything but
// paths and definitions, then one document per path and per definition.
// Concatenated protobuf messages parse as one message with their fields
// merged (repeated fields appended), so the pieces read back as the whole
// document while only one of them exists as messages at a time.

// protoHead is the document without paths and definitions.
func protoHead(version string, params *paramTable) *openapi_v2.Document {
	doc := &openapi_v2.Document{
		Swagger: "2.0",
		Info:    &openapi_v2.Info{Title: "Kubernetes", Version: version},
		Security: []*openapi_v2.SecurityRequirement{{AdditionalProperties: []*openapi_v2.NamedStringArray{
			{Name: "BearerToken", Value: &openapi_v2.StringArray{}}}}},
		SecurityDefinitions: &openapi_v2.SecurityDefinitions{AdditionalProperties: []*openapi_v2.NamedSecurityDefinitionsItem{{
			Name: "BearerToken",
			Value: &openapi_v2.SecurityDefinitionsItem{Oneof: &openapi_v2.SecurityDefinitionsItem_ApiKeySecurity{
				ApiKeySecurity: &openapi_v2.ApiKeySecurity{Type: "apiKey", Name: "authorization", In: "header",
					Description: "Bearer Token authentication"}}},
		}}},
	}
	if len(params.sharedOrder) > 0 {
		doc.Parameters = &openapi_v2.ParameterDefinitions{}
		for _, name := range params.sharedOrder {
			doc.Parameters.AdditionalProperties = append(doc.Parameters.AdditionalProperties,
				&openapi_v2.NamedParameter{Name: name, Value: paramProto(params.sharedParams[name])})
		}
	}
	return doc
}

// protoPath is a document holding one path item.
func protoPath(r *route, params *paramTable) *openapi_v2.Document {
	item := &openapi_v2.PathItem{Parameters: paramsProto(r.params, params)}
	for _, op := range r.ops {
		o := operationProto(op, params)
		switch op.method {
		case "get":
			item.Get = o
		case "put":
			item.Put = o
		case "post":
			item.Post = o
		case "delete":
			item.Delete = o
		case "patch":
			item.Patch = o
		case "head":
			item.Head = o
		case "options":
			item.Options = o
		}
	}
	return &openapi_v2.Document{Paths: &openapi_v2.Paths{Path: []*openapi_v2.NamedPathItem{{Name: r.path, Value: item}}}}
}

// protoDefinition is a document holding one definition.
func protoDefinition(name string, n *node) *openapi_v2.Document {
	return &openapi_v2.Document{Definitions: &openapi_v2.Definitions{
		AdditionalProperties: []*openapi_v2.NamedSchema{{Name: name, Value: n.schemaProto()}}}}
}

func (n *node) schemaProto() *openapi_v2.Schema {
	s := &openapi_v2.Schema{Description: n.description, Format: n.format, Required: n.required,
		VendorExtension: extensionsProto(n.extensions())}
	if n.ref != "" {
		s.XRef = v2DefPrefix + n.ref
	}
	if n.typ != "" {
		s.Type = &openapi_v2.TypeItem{Value: []string{n.typ}}
	}
	for _, v := range n.enum {
		text, _ := json.Marshal(v)
		s.Enum = append(s.Enum, &openapi_v2.Any{Yaml: string(text) + "\n"})
	}
	if n.items != nil {
		s.Items = &openapi_v2.ItemsItem{Schema: []*openapi_v2.Schema{n.items.schemaProto()}}
	}
	if n.additional != nil {
		s.AdditionalProperties = &openapi_v2.AdditionalPropertiesItem{
			Oneof: &openapi_v2.AdditionalPropertiesItem_Schema{Schema: n.additional.schemaProto()}}
	}
	if len(n.props) > 0 {
		s.Properties = &openapi_v2.Properties{}
		for _, p := range n.props {
			s.Properties.AdditionalProperties = append(s.Properties.AdditionalProperties,
				&openapi_v2.NamedSchema{Name: p.name, Value: p.node.schemaProto()})
		}
	}
	return s
}

// extensionsProto encodes vendor extensions as gnostic carries them: each
// value as YAML text, here in JSON's flow style (JSON is YAML), which
// costs a fraction of a YAML encoder.
func extensionsProto(exts []extension) []*openapi_v2.NamedAny {
	var out []*openapi_v2.NamedAny
	for _, e := range exts {
		text, err := json.Marshal(e.value)
		if err != nil {
			continue
		}
		out = append(out, &openapi_v2.NamedAny{Name: e.name, Value: &openapi_v2.Any{Yaml: string(text) + "\n"}})
	}
	return out
}

func operationProto(op *operation, params *paramTable) *openapi_v2.Operation {
	o := &openapi_v2.Operation{
		Tags: []string{op.tag}, Description: op.description, OperationId: op.id, Produces: op.produces,
		Consumes: op.consumes, Parameters: paramsProto(op.params, params), Schemes: []string{"https"},
		Responses: &openapi_v2.Responses{}, VendorExtension: extensionsProto(op.extensions()),
	}
	for _, resp := range op.responses {
		r := &openapi_v2.Response{Description: resp.description}
		switch {
		case resp.ref != "":
			r.Schema = schemaItem(&openapi_v2.Schema{XRef: v2DefPrefix + resp.ref})
		case resp.typ != "":
			r.Schema = schemaItem(&openapi_v2.Schema{Type: &openapi_v2.TypeItem{Value: []string{resp.typ}}})
		}
		o.Responses.ResponseCode = append(o.Responses.ResponseCode, &openapi_v2.NamedResponseValue{
			Name: resp.code, Value: &openapi_v2.ResponseValue{Oneof: &openapi_v2.ResponseValue_Response{Response: r}}})
	}
	return o
}

func schemaItem(s *openapi_v2.Schema) *openapi_v2.SchemaItem {
	return &openapi_v2.SchemaItem{Oneof: &openapi_v2.SchemaItem_Schema{Schema: s}}
}

func paramsProto(ps []*param, params *paramTable) []*openapi_v2.ParametersItem {
	var out []*openapi_v2.ParametersItem
	for _, p := range ps {
		if name, ok := params.sharedName(p); ok {
			out = append(out, &openapi_v2.ParametersItem{Oneof: &openapi_v2.ParametersItem_JsonReference{
				JsonReference: &openapi_v2.JsonReference{XRef: "#/parameters/" + name}}})
			continue
		}
		out = append(out, &openapi_v2.ParametersItem{Oneof: &openapi_v2.ParametersItem_Parameter{Parameter: paramProto(p)}})
	}
	return out
}

func paramProto(p *param) *openapi_v2.Parameter {
	switch p.in {
	case "body":
		return &openapi_v2.Parameter{Oneof: &openapi_v2.Parameter_BodyParameter{BodyParameter: &openapi_v2.BodyParameter{
			Name: p.name, In: p.in, Required: p.required, Schema: &openapi_v2.Schema{XRef: v2DefPrefix + p.schemaRef}}}}
	case "path":
		return &openapi_v2.Parameter{Oneof: &openapi_v2.Parameter_NonBodyParameter{NonBodyParameter: &openapi_v2.NonBodyParameter{
			Oneof: &openapi_v2.NonBodyParameter_PathParameterSubSchema{PathParameterSubSchema: &openapi_v2.PathParameterSubSchema{
				Required: p.required, In: p.in, Description: p.description, Name: p.name, Type: p.typ, UniqueItems: true}}}}}
	}
	return &openapi_v2.Parameter{Oneof: &openapi_v2.Parameter_NonBodyParameter{NonBodyParameter: &openapi_v2.NonBodyParameter{
		Oneof: &openapi_v2.NonBodyParameter_QueryParameterSubSchema{QueryParameterSubSchema: &openapi_v2.QueryParameterSubSchema{
			Required: p.required, In: p.in, Description: p.description, Name: p.name, Type: p.typ, UniqueItems: true}}}}}
}
