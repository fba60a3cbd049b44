"""Diabetic-retinopathy grading from fundus photographs."""
