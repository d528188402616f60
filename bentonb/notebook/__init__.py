"""The notebook face of bentonb: magics, the in-kernel server handle, the widget."""
