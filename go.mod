module github.com/keyrotator/iam-access-key-rotator

go 1.26.0

require (
	github.com/wneessen/go-mail v0.8.1
	github.com/yeka/zip v0.0.0-20231116150916-03d6312748a9
)

require (
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
