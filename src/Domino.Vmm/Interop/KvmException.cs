using System.Runtime.InteropServices;

namespace Domino.Vmm.Interop;

/// <summary>A failed system call on /dev/kvm or its descriptors, naming the call and the errno.</summary>
public class KvmException : Exception
{
    public KvmException(string operation, int errno)
        : base($"{operation} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Operation = operation;
        Errno = errno;
    }

    public KvmException(string message) : base(message)
    {
        Operation = "";
    }

    public string Operation { get; }

    public int Errno { get; }
}
