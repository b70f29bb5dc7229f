"""What an object is and where labelled data comes from (no torch)."""
