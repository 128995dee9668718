"""Amazon S3's REST API: which operation a request is, from method, bucket, key and query.

S3 has no operation name on the wire. The bucket is in the host (virtual-hosted style) or the
first path segment (path style); the rest of the path is the key; a "subresource" in the query
string (`?lifecycle`, `?delete`, `?versionId=`) picks the operation. The names returned are
S3's own operation names (plus `DeleteObjectVersion`, airlock's name for a versioned delete).

Fail-closed choices:
- DELETE on a bucket with a query parameter S3 does not define is read as DeleteBucket: a server
  that ignores the unknown parameter deletes the bucket.
- DeleteObjects lists its keys in an XML body; a body airlock cannot read is unknown.
"""

from __future__ import annotations

from typing import Any

from airlock.classify.providers.aws_xml import XmlError, children, parse_xml, text_of
from airlock.classify.providers.request import Request

# Bucket subresources: the query parameter that selects a bucket operation, and its name.
_BUCKET_SUBRESOURCES = {
    "accelerate": "Accelerate", "acl": "Acl", "analytics": "AnalyticsConfiguration",
    "cors": "Cors", "encryption": "Encryption",
    "intelligent-tiering": "IntelligentTieringConfiguration",
    "inventory": "InventoryConfiguration", "lifecycle": "LifecycleConfiguration",
    "location": "Location", "logging": "Logging", "metadataTable": "MetadataTableConfiguration",
    "metrics": "MetricsConfiguration", "notification": "NotificationConfiguration",
    "object-lock": "ObjectLockConfiguration", "ownershipControls": "OwnershipControls",
    "policy": "Policy", "policyStatus": "PolicyStatus",
    "publicAccessBlock": "PublicAccessBlock", "replication": "Replication",
    "requestPayment": "RequestPayment", "tagging": "Tagging", "versioning": "Versioning",
    "website": "Website", "versions": "Versions", "uploads": "Uploads", "delete": "Delete",
    "session": "Session",
}
# Query parameters that are not subresources: listing options, response overrides, signing.
_PLAIN = {"prefix", "delimiter", "marker", "max-keys", "continuation-token", "list-type",
          "start-after", "encoding-type", "fetch-owner", "key-marker", "version-id-marker",
          "upload-id-marker", "max-uploads", "max-parts", "part-number-marker", "x-id", "id"}


class S3Error(ValueError):
    """An S3 request airlock cannot read (an unreadable DeleteObjects body, ...)."""


def s3_operation(request: Request, host_bucket: str | None) -> tuple[str, dict[str, Any]]:
    """(operation, parameters) of an S3 request. Parameters: Bucket, Key, Object
    ("bucket/key", the target form), versionId, and for DeleteObjects the list of Objects."""
    segments = request.segments
    if host_bucket is not None:
        bucket: str | None = host_bucket
        key = "/".join(segments)
    else:
        bucket = segments[0] if segments else None
        key = "/".join(segments[1:])
    params: dict[str, Any] = {}
    if bucket:
        params["Bucket"] = bucket
    if key and bucket:
        params["Key"] = key
        params["Object"] = f"{bucket}/{key}"
    version = request.param("versionId")
    if version:
        params["versionId"] = version
    method = request.method
    if not bucket:
        return ("ListBuckets" if method in ("GET", "HEAD") else f"{method.title()}Service"), params
    if key:
        return _object_operation(request, method), params
    return _bucket_operation(request, method, params)


def _object_operation(request: Request, method: str) -> str:
    has = request.has_param
    if method in ("GET", "HEAD"):
        return "HeadObject" if method == "HEAD" else "GetObject"
    if method == "OPTIONS":
        return "OptionsObject"
    if method == "PUT":
        if has("uploadId") and has("partNumber"):
            return "UploadPart"
        if request.header("x-amz-copy-source"):
            return "CopyObject"
        for sub in ("acl", "tagging", "retention", "legal-hold"):
            if has(sub):
                return "PutObject" + _BUCKET_SUBRESOURCES.get(sub, sub.title().replace("-", ""))
        return "PutObject"
    if method == "DELETE":
        if has("uploadId"):
            return "AbortMultipartUpload"
        if has("tagging"):
            return "DeleteObjectTagging"
        return "DeleteObjectVersion" if has("versionId") else "DeleteObject"
    if method == "POST":
        if has("uploads"):
            return "CreateMultipartUpload"
        if has("uploadId"):
            return "CompleteMultipartUpload"
        if has("restore"):
            return "RestoreObject"
        if has("select"):
            return "SelectObjectContent"
        return "PostObject"
    return f"{method.title()}Object"


def _bucket_operation(request: Request, method: str,
                      params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    subs = [k for k, _ in request.query if k in _BUCKET_SUBRESOURCES]
    strange = [k for k, _ in request.query
               if k not in _BUCKET_SUBRESOURCES and k not in _PLAIN
               and not k.lower().startswith(("x-amz-", "response-"))]
    sub = _BUCKET_SUBRESOURCES[subs[0]] if subs else None
    if method in ("GET", "HEAD", "OPTIONS"):
        if method == "HEAD":
            return "HeadBucket", params
        if sub is None:
            return "ListObjects", params
        return ("List" + sub if sub in ("Versions", "Uploads") else "GetBucket" + sub), params
    if method == "PUT":
        return ("CreateBucket" if sub is None else "PutBucket" + sub), params
    if method == "DELETE":
        if sub is None or strange:
            return "DeleteBucket", params
        return "DeleteBucket" + sub, params
    if method == "POST":
        if sub == "Delete":
            params["Object"] = _deleted_objects(request, str(params["Bucket"]))
            return "DeleteObjects", params
        return "PostObject", params
    return f"{method.title()}Bucket", params


def _deleted_objects(request: Request, bucket: str) -> list[str]:
    """The objects a DeleteObjects body names, as "bucket/key" (with "@version" when given)."""
    try:
        root = parse_xml(request.body or "")
    except XmlError as exc:
        raise S3Error(f"the DeleteObjects body cannot be read: {exc}") from None
    objects: list[str] = []
    for node in children(root, "Object"):
        key = text_of(node, "Key")
        if key is None:
            raise S3Error("a DeleteObjects entry has no Key")
        version = text_of(node, "VersionId")
        objects.append(f"{bucket}/{key}" + (f"@{version}" if version else ""))
    if not objects:
        raise S3Error("the DeleteObjects body names no object")
    return objects
