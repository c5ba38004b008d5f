"""``teacher-student``: A mean-field ReLU student learns a ReLU teacher.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import TeacherStudent, TeacherStudentConfig

__all__ = ["TeacherStudent", "TeacherStudentConfig"]
