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

/// <summary>
/// A man in the middle of a migration stream: source ↔ proxy ↔ target over two loopback pairs. It
/// forwards whole records ({u32 type, u32 length, u32 CRC, body}) and, at the record <see cref="Cut"/>
/// picks, closes both connections instead of forwarding it, so a test can drop the link at an exact
/// point of the protocol.
/// </summary>
internal sealed class RecordProxy : IDisposable
{
    public enum Action { Forward, DropAndCut }

    private readonly Loopback _sourceSide = new();
    private readonly Loopback _targetSide = new();
    private readonly Func<bool, Domino.Vmm.Persist.StreamRecord, Action> _decide;
    private int _cut;

    /// <param name="decide">Called per record with (from the source?, type).</param>
    public RecordProxy(Func<bool, Domino.Vmm.Persist.StreamRecord, Action> decide)
    {
        _decide = decide;
        _ = Task.Run(() => Pump(_sourceSide.Target, _targetSide.Source, fromSource: true));
        _ = Task.Run(() => Pump(_targetSide.Source, _sourceSide.Target, fromSource: false));
    }

    /// <summary>The source's end of the link.</summary>
    public Stream Source => _sourceSide.Source;

    /// <summary>The target's end of the link.</summary>
    public Stream Target => _targetSide.Target;

    /// <summary>Whether the link has been cut.</summary>
    public bool IsCut => Volatile.Read(ref _cut) != 0;

    public void Cut()
    {
        if (Interlocked.Exchange(ref _cut, 1) != 0) return;
        _sourceSide.Target.Close();
        _targetSide.Source.Close();
    }

    private void Pump(Stream from, Stream to, bool fromSource)
    {
        var head = new byte[12];
        try
        {
            while (!IsCut)
            {
                from.ReadExactly(head);
                var body = new byte[System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4))];
                from.ReadExactly(body);
                var action = _decide(fromSource, (Domino.Vmm.Persist.StreamRecord)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head));
                if (action == Action.DropAndCut) { Cut(); return; }
                to.Write(head);
                to.Write(body);
                to.Flush();
            }
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
        {
            Cut();
        }
    }

    public void Dispose()
    {
        Cut();
        _sourceSide.Dispose();
        _targetSide.Dispose();
    }
}
