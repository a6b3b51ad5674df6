"""The product without a screen: no Qt may be imported anywhere under this package."""
