using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A seekable, read-only stream of <see cref="Length"/> pseudo-random bytes that depend only on the seed,
/// generated on the fly (xoshiro256**, about 2 GB/s) so a 1 GiB layer never exists in memory.
/// </summary>
internal sealed class RandomContentStream(long length, int seed) : Stream
{
    private const int BlockSize = 8192; // bytes per generated block; the generator is re-seeded per block so Seek is O(1)
    private readonly byte[] _block = new byte[BlockSize];
    private long _blockIndex = -1;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => _position = Math.Clamp(value, 0, length); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var total = 0;
        while (buffer.Length > 0 && _position < length)
        {
            var index = _position / BlockSize;
            if (index != _blockIndex) { Fill(index); _blockIndex = index; }
            var inBlock = (int)(_position % BlockSize);
            var n = (int)Math.Min(Math.Min(buffer.Length, BlockSize - inBlock), length - _position);
            _block.AsSpan(inBlock, n).CopyTo(buffer);
            buffer = buffer[n..];
            _position += n;
            total += n;
        }
        return total;
    }

    private void Fill(long blockIndex)
    {
        // SplitMix64 seeds xoshiro256** from (seed, block) so every block is independent and reproducible.
        var sm = ((ulong)(uint)seed << 32) ^ (ulong)blockIndex * 0x9E3779B97F4A7C15UL ^ 0xD1B54A32D192ED03UL;
        ulong s0 = SplitMix(ref sm), s1 = SplitMix(ref sm), s2 = SplitMix(ref sm), s3 = SplitMix(ref sm);
        var words = MemoryMarshal.Cast<byte, ulong>(_block.AsSpan());
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = ulong.RotateLeft(s1 * 5, 7) * 9;
            var t = s1 << 17;
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = ulong.RotateLeft(s3, 45);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => length + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A write-only pass-through that hashes (SHA-256) and counts what goes through it.</summary>
internal sealed class HashingWriteStream(Stream inner, bool leaveOpen = false) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>"sha256:hex" of everything written; call once, after the last write.</summary>
    public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        BytesWritten += buffer.Length;
        inner.Write(buffer);
    }

    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!leaveOpen) inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>A seekable read-only window [offset, offset+length) of a file, for chunked uploads.</summary>
internal sealed class FileSliceStream : Stream
{
    private readonly FileStream _file;
    private readonly long _start;
    private readonly long _length;

    public FileSliceStream(string path, long start, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        _start = start;
        _length = length;
        _file.Position = start;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;
    public override long Position { get => _file.Position - _start; set => _file.Position = _start + Math.Clamp(value, 0, _length); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var left = _length - Position;
        if (left <= 0) return 0;
        return _file.Read(buffer[..(int)Math.Min(buffer.Length, left)]);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var left = _length - Position;
        if (left <= 0) return ValueTask.FromResult(0);
        return _file.ReadAsync(buffer[..(int)Math.Min(buffer.Length, left)], cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => Position + offset,
        _ => _length + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }
}
