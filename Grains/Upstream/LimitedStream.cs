namespace Mirror.Grains.Upstream;

/// <summary>A read-only stream that fails once more than a fixed number of bytes has been read: bounds what an upstream can make us parse.</summary>
internal sealed class LimitedStream(Stream inner, long limit) : Mirror.Grains.Storage.ReadOnlyStream
{
    private long _read;

    public override long Position { get => _read; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    private int Count(int n)
    {
        _read += n;
        if (_read > limit) throw new IOException($"response larger than {limit} bytes");
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
