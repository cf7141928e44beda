using System.Net;
using System.Net.Sockets;

namespace Domino.Vmm.Tests.Persist;

/// <summary>A connected TCP pair on 127.0.0.1 for migration tests.</summary>
internal sealed class Loopback : IDisposable
{
    private readonly TcpClient _client;
    private readonly TcpClient _server;

    public Loopback()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        _client = new TcpClient();
        _client.Connect((IPEndPoint)listener.LocalEndpoint);
        _server = accept.GetAwaiter().GetResult();
        listener.Stop();
        _client.NoDelay = _server.NoDelay = true;
        Source = _client.GetStream();
        Target = _server.GetStream();
    }

    public NetworkStream Source { get; }
    public NetworkStream Target { get; }

    /// <summary>Drops the connection abruptly (RST) from the target's side, as if the target process died.</summary>
    public void KillTarget()
    {
        _server.Client.LingerState = new LingerOption(true, 0);
        _server.Close();
    }

    public void KillSource()
    {
        _client.Client.LingerState = new LingerOption(true, 0);
        _client.Close();
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
    }
}

/// <summary>Reads through to an inner stream, then fails as if the peer vanished after <paramref name="limit"/> bytes.</summary>
internal sealed class CutAfter(Stream inner, long limit, Action cut) : Stream
{
    private long _read;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_read >= limit)
        {
            cut();
            throw new IOException("test: target died mid-stream");
        }
        var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, limit - _read)]);
        _read += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    public override void Flush() => inner.Flush();
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
