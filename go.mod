module github.com/keyrotator/iam-access-key-rotator

go 1.26
