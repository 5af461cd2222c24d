module example.com/pager

go 1.26.8

require github.com/herald-eventing/herald v0.0.0

require (
	github.com/antchfx/xpath v1.3.9 // indirect
	github.com/beevik/etree v1.6.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hooklift/gowsdl v0.5.0 // indirect
	github.com/jacoelho/xsd v0.4.0 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/herald-eventing/herald => ../..
