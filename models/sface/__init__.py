"""The ``sface`` pack (YuNet detector + SFace recogniser) and what the ``fusion`` pack shares."""
