package server

import (
	"net/http"
	"time"
)

// Amazon EFS, restJson1: GET routes with query parameters; member names Pascal case.

type efsState struct {
	FileSystems  []efsFileSystem  `json:"fileSystems"`
	AccessPoints []efsAccessPoint `json:"accessPoints"`
}

type efsFileSystem struct {
	OwnerID              string     `json:"OwnerId"`
	CreationToken        string     `json:"CreationToken"`
	FileSystemID         string     `json:"FileSystemId"`
	FileSystemArn        string     `json:"FileSystemArn"`
	CreationTime         time.Time  `json:"CreationTime"`
	LifeCycleState       string     `json:"LifeCycleState"`
	Name                 string     `json:"Name"`
	NumberOfMountTargets int        `json:"NumberOfMountTargets"`
	SizeInBytes          efsSize    `json:"SizeInBytes"`
	PerformanceMode      string     `json:"PerformanceMode"`
	Encrypted            bool       `json:"Encrypted"`
	KmsKeyID             string     `json:"KmsKeyId"`
	ThroughputMode       string     `json:"ThroughputMode"`
	Tags                 []efsTag   `json:"Tags"`
	FileSystemProtection efsProtect `json:"FileSystemProtection"`
}

type efsSize struct {
	Value     int64     `json:"Value"`
	Timestamp time.Time `json:"Timestamp"`
}

type efsProtect struct {
	ReplicationOverwriteProtection string `json:"ReplicationOverwriteProtection"`
}

type efsTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type efsAccessPoint struct {
	ClientToken    string       `json:"ClientToken"`
	Name           string       `json:"Name"`
	Tags           []efsTag     `json:"Tags"`
	AccessPointID  string       `json:"AccessPointId"`
	AccessPointArn string       `json:"AccessPointArn"`
	FileSystemID   string       `json:"FileSystemId"`
	PosixUser      efsPosixUser `json:"PosixUser"`
	RootDirectory  efsRootDir   `json:"RootDirectory"`
	OwnerID        string       `json:"OwnerId"`
	LifeCycleState string       `json:"LifeCycleState"`
}

type efsPosixUser struct {
	UID int `json:"Uid"`
	GID int `json:"Gid"`
}

type efsRootDir struct {
	Path         string          `json:"Path"`
	CreationInfo efsCreationInfo `json:"CreationInfo"`
}

type efsCreationInfo struct {
	OwnerUID    int    `json:"OwnerUid"`
	OwnerGID    int    `json:"OwnerGid"`
	Permissions string `json:"Permissions"`
}

func efsService() *service {
	return &service{
		name:        "efs",
		signingName: "elasticfilesystem",
		ops: map[string]handler{
			"DescribeFileSystems":  op(efsDescribeFileSystems),
			"DescribeAccessPoints": op(efsDescribeAccessPoints),
		},
	}
}

// efsRoute maps restJson1's method and path to the operation.
func efsRoute(method, path string) string {
	switch {
	case method == http.MethodGet && path == "/2015-02-01/file-systems":
		return "DescribeFileSystems"
	case method == http.MethodGet && path == "/2015-02-01/access-points":
		return "DescribeAccessPoints"
	}
	return method + " " + path
}

type efsDescribeFileSystemsIn struct {
	MaxItems      int    `json:"MaxItems"`
	Marker        string `json:"Marker"`
	CreationToken string `json:"CreationToken"`
	FileSystemID  string `json:"FileSystemId"`
}

func efsDescribeFileSystems(s *Server, c *call, in *efsDescribeFileSystemsIn) (any, error) {
	if in.CreationToken != "" && in.FileSystemID != "" {
		return nil, badRequest("BadRequest", "Only one of CreationToken and FileSystemId may be specified")
	}
	var out []efsFileSystem
	for _, fs := range s.st.EFS.FileSystems {
		if (in.FileSystemID == "" || fs.FileSystemID == in.FileSystemID || fs.FileSystemArn == in.FileSystemID) &&
			(in.CreationToken == "" || fs.CreationToken == in.CreationToken) {
			out = append(out, fs)
		}
	}
	if in.FileSystemID != "" && len(out) == 0 {
		return nil, errorf(http.StatusNotFound, "FileSystemNotFound", "File system '%s' does not exist.", in.FileSystemID)
	}
	page, next, ok := pageOf(out, in.Marker, pageSize(in.MaxItems, 100, 100))
	if !ok {
		return nil, badRequest("BadRequest", "Invalid Marker")
	}
	return struct {
		Marker      string          `json:"Marker,omitempty"`
		FileSystems []efsFileSystem `json:"FileSystems"`
		NextMarker  string          `json:"NextMarker,omitempty"`
	}{in.Marker, orEmpty(page), next}, nil
}

type efsDescribeAccessPointsIn struct {
	MaxResults    int    `json:"MaxResults"`
	NextToken     string `json:"NextToken"`
	AccessPointID string `json:"AccessPointId"`
	FileSystemID  string `json:"FileSystemId"`
}

func efsDescribeAccessPoints(s *Server, c *call, in *efsDescribeAccessPointsIn) (any, error) {
	if (in.AccessPointID == "") == (in.FileSystemID == "") {
		return nil, badRequest("BadRequest", "Exactly one of AccessPointId and FileSystemId must be specified")
	}
	if in.FileSystemID != "" {
		found := false
		for _, fs := range s.st.EFS.FileSystems {
			found = found || fs.FileSystemID == in.FileSystemID
		}
		if !found {
			return nil, errorf(http.StatusNotFound, "FileSystemNotFound", "File system '%s' does not exist.", in.FileSystemID)
		}
	}
	var out []efsAccessPoint
	for _, ap := range s.st.EFS.AccessPoints {
		if ap.AccessPointID == in.AccessPointID || ap.AccessPointArn == in.AccessPointID || ap.FileSystemID == in.FileSystemID {
			out = append(out, ap)
		}
	}
	if in.AccessPointID != "" && len(out) == 0 {
		return nil, errorf(http.StatusNotFound, "AccessPointNotFound", "Access point '%s' does not exist.", in.AccessPointID)
	}
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.MaxResults, 100, 100))
	if !ok {
		return nil, badRequest("BadRequest", "Invalid NextToken")
	}
	return struct {
		AccessPoints []efsAccessPoint `json:"AccessPoints"`
		NextToken    string           `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}
