package protocol

import (
	"fmt"
	"reflect"

	"github.com/warden-iot/warden/internal/awsmodel"
)

// Handlers returns the handler of each operation of model that recv has a
// method of the same name for: a service serves exactly the operations it
// has a method for. Each such method must be of type H.
func Handlers[H any](model *awsmodel.Service, recv any) map[string]H {
	self := reflect.ValueOf(recv)
	handlers := map[string]H{}
	for name := range model.Operations {
		method := self.MethodByName(name)
		if !method.IsValid() {
			continue
		}
		h, ok := method.Interface().(H)
		if !ok {
			panic(fmt.Sprintf("protocol: method %s of %T is not a handler", name, recv))
		}
		handlers[name] = h
	}
	return handlers
}
