using System.Text;

namespace Domino.Vmm.Tests;

/// <summary>A write-only stream collecting guest console output, with a wait for expected text.</summary>
internal sealed class ConsoleCapture : Stream
{
    private readonly StringBuilder _text = new();
    private readonly object _lock = new();

    public string Text { get { lock (_lock) return _text.ToString(); } }

    public bool WaitFor(string needle, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_lock)
        {
            while (!_text.ToString().Contains(needle, StringComparison.Ordinal))
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(_lock, left);
            }
            return true;
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        lock (_lock)
        {
            _text.Append(Encoding.Latin1.GetString(buffer, offset, count));
            Monitor.PulseAll(_lock);
        }
    }

    public override void WriteByte(byte value) => Write([value], 0, 1);

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
