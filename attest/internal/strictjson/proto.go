package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UnmarshalProto decodes b into m with protojson (unknown fields refused) after
// the strict pre-pass, and refuses keys that are not the exact JSON name of a
// field (protojson also accepts the proto names, such as "build_type").
func UnmarshalProto(b []byte, m proto.Message) error {
	if err := Check(b); err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return err
	}
	if err := checkProtoNames(tree, m.ProtoReflect().Descriptor(), "$", 0); err != nil {
		return err
	}
	return protojson.Unmarshal(b, m)
}

func checkProtoNames(tree any, md protoreflect.MessageDescriptor, path string, depth int) error {
	if depth > MaxDepth {
		return errors.New(path + ": nested too deep")
	}
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
		"google.protobuf.Timestamp", "google.protobuf.Duration":
		return nil // free-form or scalar in JSON; decoded by their own rules
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil // a type error protojson reports
	}
	for k, v := range obj {
		fd := md.Fields().ByJSONName(k)
		if fd == nil || fd.JSONName() != k {
			return fmt.Errorf("%s: unknown field %q", path, k)
		}
		p := path + "." + k
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				if m, ok := v.(map[string]any); ok {
					for mk, mv := range m {
						if err := checkProtoNames(mv, fd.MapValue().Message(), p+"."+mk, depth+1); err != nil {
							return err
						}
					}
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			if fd.IsList() {
				if arr, ok := v.([]any); ok {
					for i, e := range arr {
						if err := checkProtoNames(e, fd.Message(), fmt.Sprintf("%s[%d]", p, i), depth+1); err != nil {
							return err
						}
					}
				}
				continue
			}
			if err := checkProtoNames(v, fd.Message(), p, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
