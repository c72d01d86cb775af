module github.com/keyrotator/iam-access-key-rotator

go 1.26

// node_modules holds the aws-cdk CLI (package.json), whose init templates contain Go files.
ignore ./node_modules
