using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;

namespace Mirror.Grains.Storage;

/// <summary>Records multipart uploads in flight so that a janitor can abort those whose owner died (ListMultipartUploads is not universal).</summary>
public interface IUploadTracker
{
    /// <summary>Remembers an upload that has been initiated.</summary>
    Task TrackAsync(string uploadId, string key, Digest digest, CancellationToken cancellationToken);

    /// <summary>Forgets an upload that was completed or aborted.</summary>
    Task UntrackAsync(string uploadId, CancellationToken cancellationToken);
}

/// <summary>
/// Blobs in an S3-compatible bucket under <c>{prefix}blobs/{algorithm}/{hex}</c>. Writes stream into a multipart upload
/// whose parts are read straight from the fetch's spool file as it grows (no part is buffered in memory); the upload
/// is completed only after the caller verified digest and size, and aborted otherwise.
/// </summary>
public sealed partial class S3BlobStore : IBlobStore, IDisposable
{
    /// <summary>Part size: 16 MiB keeps a 160 GiB blob under S3's 10,000-part limit and the request count low.</summary>
    internal const long PartSize = 16L * 1024 * 1024;

    /// <summary>
    /// The commit marker: user metadata carrying the verified length, written with the object. An object whose marker
    /// is missing or disagrees with its length is not committed. Real S3 and MinIO make a PUT visible atomically, but
    /// some S3-compatible stores expose an object while it is still being written (s3rver does, with a short length);
    /// the marker keeps such a half-written object from ever being served as a blob.
    /// </summary>
    internal const string LengthMetadata = "x-amz-meta-mirror-length";

    private readonly AmazonS3Client _s3;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly IUploadTracker? _tracker;
    private readonly ILogger _logger;

    /// <summary>Creates the store from <c>Mirror:Storage:S3</c>.</summary>
    public S3BlobStore(S3Options options, IUploadTracker? tracker, ILogger<S3BlobStore> logger)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            AuthenticationRegion = options.Region,
            // Only what the operation requires: S3-compatible servers differ in which flexible checksums they accept.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromMinutes(5),
            MaxErrorRetry = 3,
        };
        if (options.ServiceUrl is not null) config.ServiceURL = options.ServiceUrl;
        else config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        _s3 = options.AccessKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
            : new AmazonS3Client(config);
        _bucket = options.Bucket!;
        _prefix = options.KeyPrefix;
        _tracker = tracker;
        _logger = logger;
    }

    /// <summary>The object key of a blob.</summary>
    public string KeyOf(Digest digest) => $"{_prefix}blobs/{digest.Algorithm}/{digest.Hex}";

    /// <summary>Creates the bucket when it does not exist yet.</summary>
    public async Task EnsureBucketAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _s3.PutBucketAsync(new PutBucketRequest { BucketName = _bucket }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists" || e.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    /// <inheritdoc />
    public async Task<StoredBlob?> OpenReadOrNullAsync(Digest digest, long offset, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest { BucketName = _bucket, Key = KeyOf(digest) };
        if (offset > 0) request.ByteRange = new ByteRange($"bytes={offset}-");
        try
        {
            var response = await _s3.GetObjectAsync(request, cancellationToken);
            var total = offset > 0 && TotalFromContentRange(response.ContentRange) is { } t ? t : response.ContentLength + offset;
            if (!IsCommitted(response.Metadata, total))
            {
                new S3ResponseStream(response).Dispose();
                return null;
            }
            return new StoredBlob(total, new S3ResponseStream(response), null);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (ArgumentException e)
        {
            // The SDK could not parse the store's answer: s3rver, mid-write, serves an ETag that is not yet an MD5. Such
            // an object is not committed; the caller fetches or follows, and finds it once the write is done.
            LogUnreadable(_logger, digest, e.Message);
            return null;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // Offset at or past the end: an empty read of an existing blob.
            var size = await GetSizeOrNullAsync(digest, cancellationToken);
            return size is null ? null : new StoredBlob(size.Value, Stream.Null, null);
        }
    }

    private static long? TotalFromContentRange(string? contentRange)
    {
        var slash = contentRange?.LastIndexOf('/') ?? -1;
        return slash > 0 && long.TryParse(contentRange![(slash + 1)..], out var total) ? total : null;
    }

    /// <inheritdoc />
    public async Task<long?> GetSizeOrNullAsync(Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            var meta = await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = KeyOf(digest) }, cancellationToken);
            return IsCommitted(meta.Metadata, meta.ContentLength) ? meta.ContentLength : null;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static bool IsCommitted(MetadataCollection metadata, long length) =>
        metadata[LengthMetadata] is { } marker && long.TryParse(marker, out var committed) && committed == length;

    /// <inheritdoc />
    public Task<IBlobWriter> BeginWriteAsync(Digest digest, long expectedLength, string spoolPath, CancellationToken cancellationToken) =>
        Task.FromResult<IBlobWriter>(new Writer(this, digest, spoolPath, expectedLength));

    /// <inheritdoc />
    public Task<Uri?> GetDownloadUrlOrNullAsync(Digest digest, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var url = _s3.GetPreSignedURL(new GetPreSignedUrlRequest
        {
            BucketName = _bucket,
            Key = KeyOf(digest),
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow.Add(lifetime),
            Protocol = _s3.Config.ServiceURL?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? Protocol.HTTP : Protocol.HTTPS,
        });
        return Task.FromResult<Uri?>(new Uri(url));
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (await GetSizeOrNullAsync(digest, cancellationToken) is null) return false;
        await _s3.DeleteObjectAsync(_bucket, KeyOf(digest), cancellationToken);
        return true;
    }

    /// <summary>Aborts a multipart upload (the janitor's tool for uploads whose owner died).</summary>
    public async Task AbortUploadAsync(string key, string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <inheritdoc />
    public void Dispose() => _s3.Dispose();

    private sealed class Writer(S3BlobStore store, Digest digest, string spoolPath, long expectedLength) : IBlobWriter
    {
        private readonly List<PartETag> _parts = [];
        private string? _uploadId;
        private long _uploaded;
        private Task _inFlight = Task.CompletedTask;
        private bool _completed;

        private string Key => store.KeyOf(digest);

        public async ValueTask OnSpoolAdvancedAsync(long length, CancellationToken cancellationToken)
        {
            if (length - _uploaded < PartSize) return;
            // One part uploads while the next fills; waiting for the previous one is the back-pressure.
            await _inFlight;
            if (_uploadId is null)
            {
                var initiate = new InitiateMultipartUploadRequest { BucketName = store._bucket, Key = Key, ContentType = "application/octet-stream" };
                initiate.Metadata.Add(LengthMetadata, expectedLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var init = await store._s3.InitiateMultipartUploadAsync(initiate, cancellationToken);
                _uploadId = init.UploadId;
                if (store._tracker is not null) await store._tracker.TrackAsync(_uploadId, Key, digest, cancellationToken);
            }
            var start = _uploaded;
            _uploaded += PartSize;
            _inFlight = UploadPartAsync(_parts.Count + 1, start, PartSize, cancellationToken);
            _parts.Add(null!); // reserve the slot; UploadPartAsync fills it
        }

        private async Task UploadPartAsync(int number, long start, long size, CancellationToken cancellationToken)
        {
            await using var input = new FileRangeStream(spoolPath, start, size);
            var response = await store._s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = store._bucket,
                Key = Key,
                UploadId = _uploadId,
                PartNumber = number,
                PartSize = size,
                InputStream = input,
            }, cancellationToken);
            _parts[number - 1] = new PartETag(number, response.ETag);
        }

        public async Task CommitAsync(long verifiedLength, CancellationToken cancellationToken)
        {
            await _inFlight;
            if (verifiedLength != expectedLength) throw new IOException($"verified {verifiedLength} bytes of {digest}, announced {expectedLength}");
            if (_uploadId is null)
            {
                await using var input = new FileRangeStream(spoolPath, 0, verifiedLength);
                var put = new PutObjectRequest
                {
                    BucketName = store._bucket, Key = Key, InputStream = input, AutoCloseStream = false,
                    ContentType = "application/octet-stream", Headers = { ContentLength = verifiedLength },
                };
                put.Metadata.Add(LengthMetadata, verifiedLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
                await store._s3.PutObjectAsync(put, cancellationToken);
                _completed = true;
                return;
            }
            if (verifiedLength > _uploaded)
            {
                _parts.Add(null!);
                await UploadPartAsync(_parts.Count, _uploaded, verifiedLength - _uploaded, cancellationToken);
                _uploaded = verifiedLength;
            }
            await store._s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = store._bucket, Key = Key, UploadId = _uploadId, PartETags = _parts,
            }, cancellationToken);
            _completed = true;
            if (store._tracker is not null) await store._tracker.UntrackAsync(_uploadId, CancellationToken.None);
        }

        public async ValueTask DisposeAsync()
        {
            if (_completed || _uploadId is null) return;
            try { await _inFlight; } catch (Exception) { /* the upload is being abandoned anyway */ }
            try
            {
                await store.AbortUploadAsync(Key, _uploadId, CancellationToken.None);
                if (store._tracker is not null) await store._tracker.UntrackAsync(_uploadId, CancellationToken.None);
            }
            catch (Exception e) when (e is AmazonServiceException or IOException or HttpRequestException)
            {
                // Left for the janitor, which aborts tracked uploads whose owner is gone.
                LogAbortFailed(store._logger, digest, e.Message);
            }
        }
    }

    /// <summary>
    /// Keeps the GetObject response alive as long as its stream is read. Disposing it after reading to the end runs the
    /// SDK's checksum of what was read and throws on a mismatch; disposing it earlier (a client hung up, an object was
    /// rejected) abandons the body, where the SDK's complaint about unread bytes means nothing.
    /// </summary>
    private sealed class S3ResponseStream(GetObjectResponse response) : ReadOnlyStream
    {
        private readonly Stream _inner = response.ResponseStream;
        private int _disposed;
        private bool _atEnd;

        public override int Read(byte[] buffer, int offset, int count) => Ended(_inner.Read(buffer, offset, count), count);
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Ended(await _inner.ReadAsync(buffer, cancellationToken), buffer.Length);

        private int Ended(int n, int asked)
        {
            if (n == 0 && asked > 0) _atEnd = true;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                if (_atEnd) response.Dispose();
                else
                {
                    try { response.Dispose(); }
                    catch (AmazonClientException) { /* checksum of a body abandoned before its end */ }
                }
            }
            base.Dispose(disposing);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "S3 answer for {Digest} could not be read, treated as not committed: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, Digest digest, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not abort the multipart upload of {Digest}: {Reason}")]
    private static partial void LogAbortFailed(ILogger logger, Digest digest, string reason);
}

/// <summary>A seekable, read-only window onto part of a file, opened so that the fetch may keep writing the file.</summary>
internal sealed class FileRangeStream : Stream
{
    private readonly FileStream _file;
    private readonly long _start;
    private readonly long _length;
    private long _position;

    public FileRangeStream(string path, long start, long length)
    {
        _file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 0,
        });
        _start = start;
        _length = length;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;
    public override long Position { get => _position; set => _position = Math.Clamp(value, 0, _length); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want <= 0) return 0;
        var n = RandomAccess.Read(_file.SafeFileHandle, buffer[..want], _start + _position);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want <= 0) return 0;
        var n = await RandomAccess.ReadAsync(_file.SafeFileHandle, buffer[..want], _start + _position, cancellationToken);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => _length + offset };
        return _position;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }
}
